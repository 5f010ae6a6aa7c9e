"""The analysis: the DAG runner, the physics, step 4's scoring, and the 4-significant-digit validator."""
