"""coursekit: reference code, data and grading for the deep generative models course (USTC Ch. 7).

Submodules (import what you need; nothing heavy happens at import):

- ``coursekit.data``            digits (scikit-learn, offline), 2-D toy sets, MNIST/Fashion-MNIST (online)
- ``coursekit.nets``            time embeddings, MLP and small U-Net denoisers
- ``coursekit.diffusion``       schedules, forward process, Algorithm 1.2, Algorithm 1, Algorithm 2, guidance
- ``coursekit.gan``             GAN losses, cGAN, pix2pix (PatchGAN), CycleGAN
- ``coursekit.autoregressive``  masked convolutions, PixelCNN
- ``coursekit.vae``             VAE, cVAE, ELBO
- ``coursekit.train``           device, seeding, EMA, training loop, checkpoints
- ``coursekit.metrics``         digits classifier accuracy, Fréchet distance, 2-D mode coverage
- ``coursekit.viz`` / ``coursekit.widgets``   plotting and ipywidgets (the only modules importing them)
"""

__version__ = "0.1.0"
