"""First Neuron: learner-facing helpers (data loading and plotting)."""
