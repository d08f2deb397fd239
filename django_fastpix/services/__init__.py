"""Services: the only layer that combines models and the FastPix client."""
