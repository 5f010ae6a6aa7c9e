import numpy as np
from hepmini.tools import train_and_score

# Load the input arrays
signal = np.load('inputs/arrays/signal.npy')
bkgd = np.load('inputs/arrays/bkgd.npy')

# Call the train_and_score function
scores = train_and_score(signal, bkgd)

# Save the scores to the output files
np.save('outputs/scores/signal_scores.npy', scores[0])
np.save('outputs/scores/bkgd_scores.npy', scores[1])

# Print the key numbers
print(f"Signal scores shape: {scores[0].shape}")
print(f"Bkgd scores shape: {scores[1].shape}")
print(f"Total signal events: {signal.shape[0]}")
print(f"Total bkgd events: {bkgd.shape[0]}")
print(f"Total signal events with weights: {np.sum(scores[0]['weight'])}")
print(f"Total bkgd events with weights: {np.sum(scores[1]['weight'])}")
