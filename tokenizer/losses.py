"""VQGAN's training objective around any quantizer.

generator:     rec + perceptual_weight·LPIPS + codebook_weight·quantizer loss + λ·disc_weight·GAN
discriminator: hinge (or vanilla) loss on real vs reconstructed patches, from ``disc_start`` on
λ is the adaptive weight ||∇ rec|| / ||∇ GAN|| at the decoder's last layer (Esser et al. 2021),
so the GAN term neither drowns nor is drowned by the reconstruction term.
Defaults follow taming-transformers and the official VQCT configs.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from vqct.common.config import ConfigError, check_values, chosen, ranged

from .discriminator import PatchDiscriminator, hinge_d_loss, vanilla_d_loss

log = logging.getLogger(__name__)


@dataclass
class LossConfig:
    reconstruction: str = chosen("l1", ("l1", "l2"))
    perceptual_weight: float = ranged(1.0, 0)  # LPIPS (VGG)
    # LPIPS's VGG weights cannot be loaded (offline, no local copy): with false (the default) a run
    # with perceptual_weight > 0 stops before training; with true it trains without LPIPS and says
    # so in its model card (the quickstart's small model, whose budget LPIPS barely helps)
    allow_missing_perceptual: bool = False
    codebook_weight: float = ranged(1.0, 0)
    disc_weight: float = ranged(0.8, 0)
    disc_factor: float = ranged(1.0, 0)
    disc_start: int = ranged(0, 0)  # optimizer step at which the GAN terms start
    disc_loss: str = chosen("hinge", ("hinge", "vanilla"))
    disc_channels: int = ranged(64, 1)
    disc_layers: int = ranged(3, 1)


WEIGHTS_HINT = "put vgg16-397923af.pth in $TORCH_HOME/hub/checkpoints/ or run once with a network"


@dataclass
class Perceptual:
    """The perceptual loss a run trains with, and the line that records it (model card, config.json)."""

    model: nn.Module | None
    record: str


def load_perceptual(config: LossConfig) -> Perceptual:
    """LPIPS-VGG for a config that weights it. Its VGG-16 weights missing (offline) stop the run
    here, before anything is written, unless ``loss.allow_missing_perceptual`` lets it train
    without (and say so): a paper run must not lose its perceptual loss silently."""
    if config.perceptual_weight == 0:
        return Perceptual(None, "none (loss.perceptual_weight=0)")
    try:
        import lpips

        with warnings.catch_warnings():  # torchvision's "pretrained is deprecated" notices
            warnings.simplefilter("ignore")
            model = lpips.LPIPS(net="vgg", verbose=False)
    except Exception as error:  # a download failure surfaces as URLError, OSError or RuntimeError
        reason = str(error).splitlines()[0][:120] if str(error).strip() else type(error).__name__
        if not config.allow_missing_perceptual:
            raise ConfigError(
                f"loss.perceptual_weight={config.perceptual_weight:g} needs LPIPS's VGG-16 weights, which could not "
                f"be loaded ({reason}): {WEIGHTS_HINT}; or set loss.allow_missing_perceptual=true to train "
                "without it (the model card will say so)"
            ) from None
        log.warning("perceptual loss off: LPIPS's VGG-16 weights could not be loaded (%s); %s", reason, WEIGHTS_HINT)
        return Perceptual(None, "none: LPIPS's weights could not be loaded (loss.allow_missing_perceptual=true)")
    return Perceptual(model.eval().requires_grad_(False), f"LPIPS (VGG-16), weight {config.perceptual_weight:g}")


class VQGANLoss(nn.Module):
    def __init__(self, config: LossConfig, perceptual: Perceptual | None = None):
        """``perceptual``: loaded by the caller before anything is written (``load_perceptual``)."""
        super().__init__()
        check_values(config, prefix="loss.")
        self.config = config
        self.discriminator = PatchDiscriminator(ndf=config.disc_channels, n_layers=config.disc_layers)
        self.perceptual = (perceptual or load_perceptual(config)).model

    def gan_active(self, step: int) -> bool:
        return self.config.disc_weight > 0 and step >= self.config.disc_start

    def generator_loss(
        self,
        images: torch.Tensor,
        reconstructions: torch.Tensor,
        quantizer_loss: torch.Tensor,
        last_layer: torch.Tensor,
        step: int,
    ) -> tuple[torch.Tensor, dict[str, float]]:
        config = self.config
        if config.reconstruction == "l1":
            rec = (images - reconstructions).abs().mean()
        else:
            rec = F.mse_loss(reconstructions, images)
        nll = rec
        logs = {"loss/rec": rec.detach()}
        if self.perceptual is not None:
            perceptual = self.perceptual(images.float(), reconstructions.float()).mean()
            nll = nll + config.perceptual_weight * perceptual
            logs["loss/perceptual"] = perceptual.detach()
        total = nll + config.codebook_weight * quantizer_loss
        logs["loss/quantizer"] = quantizer_loss.detach()
        if self.gan_active(step):
            self.discriminator.requires_grad_(False)  # the generator step must not touch D's grads
            gan = -self.discriminator(reconstructions).mean()
            self.discriminator.requires_grad_(True)
            weight = self.adaptive_weight(nll, gan, last_layer) * config.disc_weight * config.disc_factor
            total = total + weight * gan
            logs |= {"loss/gan": gan.detach(), "loss/gan_weight": weight.detach()}
        logs["loss/generator"] = total.detach()
        return total, logs

    def adaptive_weight(self, nll: torch.Tensor, gan: torch.Tensor, last_layer: torch.Tensor) -> torch.Tensor:
        if not torch.is_grad_enabled():  # validation: no graph to differentiate
            return torch.tensor(0.0, device=nll.device)
        nll_grad = torch.autograd.grad(nll, last_layer, retain_graph=True)[0]
        gan_grad = torch.autograd.grad(gan, last_layer, retain_graph=True)[0]
        return (nll_grad.norm() / (gan_grad.norm() + 1e-4)).clamp(0.0, 1e4).detach()

    def discriminator_loss(
        self, images: torch.Tensor, reconstructions: torch.Tensor, discriminator: nn.Module | None = None
    ) -> tuple[torch.Tensor, dict[str, float]]:
        """``discriminator``: the same network as wrapped for distributed training, if it is
        (the generator step calls the bare module so no gradient sync waits on it). Real and fake
        go through in one call: one DDP forward per backward (see ``PatchDiscriminator``)."""
        discriminator = discriminator or self.discriminator
        logits_real, logits_fake = discriminator(images.detach(), reconstructions.detach())
        loss_fn = hinge_d_loss if self.config.disc_loss == "hinge" else vanilla_d_loss
        loss = self.config.disc_factor * loss_fn(logits_real, logits_fake)
        return loss, {
            "loss/discriminator": loss.detach(),
            "disc/logits_real": logits_real.detach().mean(),
            "disc/logits_fake": logits_fake.detach().mean(),
        }
