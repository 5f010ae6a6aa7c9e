import sys
import os
import numpy as np
from hepmini.tools import train_and_score

# Load input arrays
signal = np.load('inputs/arrays/signal.npy')
bkgd = np.load('inputs/arrays/bkgd.npy')

# Call the train_and_score function
scores = train_and_score(signal, bkgd)

# Save the scores
np.save('outputs/arrays/scores.npy', scores)

# Print progress message
print(f"Signal scores: {scores.shape}")
print(f"Background scores: {scores.shape}")
