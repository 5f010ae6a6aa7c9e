import numpy as np
from hepmini.tools import train_and_score

# Load the signal and background arrays
signal = np.load('inputs/arrays/signal.npy')
bkgd = np.load('inputs/arrays/bkgd.npy')

# Call the train_and_score function
scores = train_and_score(signal, bkgd)

# Save the scores to the specified output files
np.save('outputs/scores/signal_scores.npy', scores[0])
np.save('outputs/scores/bkgd_scores.npy', scores[1])

# Print progress messages and the key numbers
print(f"Signal scores saved to outputs/scores/signal_scores.npy")
print(f"Bkgd scores saved to outputs/scores/bkgd_scores.npy")
print(f"Signal event count: {signal.shape[0]}")
print(f"Bkgd event count: {bkgd.shape[0]}")
print(f"Signal weight sum: {np.sum(scores[0]['weight'])}")
print(f"Bkgd weight sum: {np.sum(scores[1]['weight'])}")
