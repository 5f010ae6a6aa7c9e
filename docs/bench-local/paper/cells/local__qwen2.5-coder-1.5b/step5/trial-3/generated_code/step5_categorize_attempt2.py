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

# Main loop
while True:
    # Place boundary
    new_boundary, new_significance = place_boundary(signal_df, bkgd_df, boundaries, num_bins, min_events)
    
    # If no boundary is added, stop
    if new_boundary is None:
        break
    
    # Insert boundary and update significances
    boundaries.append(new_boundary)
    significances.append(new_significance)
    
    # Check if the last boundary improved the significance by less than 5 percent
    if significances[-2] == 0 or (new_significance - significances[-2]) / significances[-2] < 0.05:
        break

# Save results
np.save('outputs/arrays/boundaries.npy', boundaries)
np.save('outputs/arrays/significances.npy', significances)
