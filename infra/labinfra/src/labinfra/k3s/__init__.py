"""k3s over SSH: rendered install scripts (pure) and the K3sCluster component."""
