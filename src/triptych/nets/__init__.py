"""Networks of the built-in models: autoencoder, text encoder, latent U-Net (they only predict)."""
