import os
import sys
import numpy as np
from hepmini.tools import train_and_score

def main():
    # Load input arrays
    signal = np.load('inputs/arrays/signal.npy')
    bkgd = np.load('inputs/arrays/bkgd.npy')

    # Call the train_and_score function
    signal_scores, bkgd_scores = train_and_score(signal, bkgd)

    # Save the scores
    np.save('outputs/arrays/signal_scores.npy', signal_scores)
    np.save('outputs/arrays/bkgd_scores.npy', bkgd_scores)

    # Save the classifier settings
    with open('outputs/arrays/classifier.json', 'w') as f:
        f.write('classifier settings here')

if __name__ == "__main__":
    main()
