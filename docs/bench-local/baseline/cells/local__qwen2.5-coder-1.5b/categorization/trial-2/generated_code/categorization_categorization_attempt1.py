import numpy as np
from hepmini.tools import load_datasets, get_significance, place_boundary

# Load the datasets
signal_df, bkgd_df = load_datasets(signal, bkgd, signal_scores, bkgd_scores)

# Initial boundaries and significance
boundaries = [0.0, 1.0]
significances = [get_significance(signal_df, bkgd_df, boundaries)]

# Number of bins and minimum events
num_bins = 1000
min_events = 10

# Main loop to add boundaries
while True:
    new_boundary, new_significance = place_boundary(signal_df, bkgd_df, boundaries, num_bins, min_events)
    
    if new_boundary is None:
        break
    
    boundaries.append(new_boundary)
    significances.append(new_significance)

# Save the results
np.save('outputs/arrays/boundaries.npy', boundaries)
np.save('outputs/arrays/significances.npy', significances)
