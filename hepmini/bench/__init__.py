"""Campaigns of agent trials: scheduling, the on-disk store, diagnosis, metrics, the report and exports."""
