import numpy as np
from hepmini.tools import train_and_score

# Load the signal and background arrays
signal = np.load('inputs/arrays/signal.npy')
bkgd = np.load('inputs/arrays/bkgd.npy')

# Call the train_and_score function
scores = train_and_score(signal, bkgd)

# Save the scores to the output file
np.save('outputs/scores/signal_scores.npy', scores[0])

# Print the key numbers
print(f"Signal scores shape: {scores[0].shape}")
print(f"Signal scores event count: {scores[0].shape[0]}")
print(f"Signal scores sum of weights: {np.sum(scores[0]['weight'])}")
