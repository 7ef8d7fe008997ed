"""spikechip PyTorch bridge: Meta-SpikeFormer model, exporter, integer reference."""
__version__ = "0.1.0"
