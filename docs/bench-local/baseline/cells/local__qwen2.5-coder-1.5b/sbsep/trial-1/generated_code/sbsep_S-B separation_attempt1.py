import numpy as np
from hepmini.tools import train_and_score

# Load the input arrays
signal = np.load('inputs/arrays/signal.npy')
bkgd = np.load('inputs/arrays/bkgd.npy')

# Call the train_and_score function
signal_scores, bkgd_scores = train_and_score(signal, bkgd)

# Save the scores
np.save('outputs/arrays/signal_scores.npy', signal_scores)
np.save('outputs/arrays/bkgd_scores.npy', bkgd_scores)

# Load the reference array
reference_scores = np.load('outputs/arrays/classifier.json')

# Compare the output scores with the reference array
for i in range(len(signal_scores)):
    if not np.isclose(signal_scores[i], reference_scores[i], atol=0.0001):
        print(f"Error: Score mismatch at index {i}. Expected {reference_scores[i]}, got {signal_scores[i]}")
        sys.exit(1)

print("All scores are within 4 significant digits of the reference array.")
