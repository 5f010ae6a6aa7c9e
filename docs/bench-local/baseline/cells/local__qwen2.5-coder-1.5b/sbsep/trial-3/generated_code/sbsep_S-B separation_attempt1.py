import sys
import os
import numpy as np
from hepmini.tools import train_and_score

def main():
    # Load input arrays
    signal = np.load('inputs/arrays/signal.npy')
    bkgd = np.load('inputs/arrays/bkgd.npy')

    # Call the train_and_score function
    scores = train_and_score(signal, bkgd)

    # Save the scores
    np.save('outputs/arrays/scores.npy', scores)

    # Print progress message
    print(f"Scores saved to outputs/arrays/scores.npy")

if __name__ == "__main__":
    main()
