import numpy as np
from hepmini.tools import load_datasets, get_significance, place_boundary

# Load datasets
signal_df, bkgd_df = load_datasets('signal.npy', 'bkgd.npy', 'signal_scores.npy', 'bkgd_scores.npy')

# Initial boundaries
boundaries = [0.0, 1.0]

# Number of bins and minimum events
num_bins = 1000
min_events = 10

# Compute initial significances
significances = [get_significance(signal_df, bkgd_df, boundaries)]

# Place boundaries until no improvement is made
while True:
    new_boundary, new_significance = place_boundary(signal_df, bkgd_df, boundaries, num_bins, min_events)
    if new_boundary is None:
        break
    boundaries.append(new_boundary)
    significances.append(new_significance)

# Save results
np.save('outputs/arrays/boundaries.npy', boundaries)
np.save('outputs/arrays/significances.npy', significances)
