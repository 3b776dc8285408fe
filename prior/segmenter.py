"""A small segmentation network that measures whether generated images follow their label maps.

It is trained on the data set's train split, images and maps, and then applied to samples: the
per-pixel agreement of its prediction with the map a sample was conditioned on, next to the same
agreement for real images and the tokenizer's reconstructions (the ceilings) and for samples
paired with another image's map (what ignoring the map would score), says how well the prior
follows the maps. Samples are decoded by the tokenizer, so half of every training batch is passed
through the tokenizer first (``reconstruct``): a segmenter that had only seen sharp real images
misreads decoded ones. Six 3×3 convolutions (dilations up to 8) see 35 px around each pixel,
enough for the shapes' colours, textures and outlines; it is a measuring device, not a
contribution.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, Dataset
from tqdm.auto import tqdm

from vqct.common.errors import UserValueError


class LabelSegmenter(nn.Module):
    def __init__(self, num_classes: int, width: int = 48):
        super().__init__()
        layers, channels = [], 3
        for dilation in (1, 1, 2, 4, 8, 1):
            layers += [
                nn.Conv2d(channels, width, 3, padding=dilation, dilation=dilation),
                nn.GroupNorm(8, width),
                nn.SiLU(),
            ]
            channels = width
        self.body = nn.Sequential(*layers)
        self.head = nn.Conv2d(width, num_classes, 1)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Images [B, 3, H, W] in [-1, 1] → class logits [B, C, H, W]."""
        return self.head(self.body(images))

    @torch.no_grad()
    def predict(self, images: torch.Tensor, batch_size: int = 128) -> torch.Tensor:
        self.eval()
        device = next(self.parameters()).device
        return torch.cat(
            [self(images[i : i + batch_size].to(device)).argmax(1).cpu() for i in range(0, len(images), batch_size)]
        )


def train_segmenter(
    dataset: Dataset,
    num_classes: int,
    *,
    steps: int = 600,
    batch_size: int = 32,
    lr: float = 3e-3,
    seed: int = 0,
    device: torch.device | str = "cpu",
    reconstruct: Callable[[torch.Tensor], torch.Tensor] | None = None,
) -> LabelSegmenter:
    """Fit on ``dataset`` items ("image", "label") for ``steps`` Adam steps (cosine-decayed lr);
    with ``reconstruct``, the second half of each batch is replaced by ``reconstruct(images)``."""
    if len(dataset) == 0:
        raise UserValueError("no training images for the label segmenter: the data set's train split is empty")
    batch_size = min(batch_size, len(dataset))  # drop_last with a larger batch would leave no batch: a hang
    torch.manual_seed(seed)
    model = LabelSegmenter(num_classes).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, steps)
    loader = DataLoader(
        dataset, batch_size=batch_size, shuffle=True, drop_last=True, generator=torch.Generator().manual_seed(seed)
    )
    step = 0
    with tqdm(total=steps, desc="training the label segmenter") as progress:
        while step < steps:
            for batch in loader:
                images = batch["image"].to(device)
                if reconstruct is not None:
                    half = len(images) // 2
                    with torch.no_grad():
                        images = torch.cat([images[:half], reconstruct(images[half:]).clamp(-1, 1)])
                loss = F.cross_entropy(model(images), batch["label"].long().to(device))
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                schedule.step()
                step += 1
                progress.update(1)
                progress.set_postfix(loss=f"{loss.item():.3f}")
                if step >= steps:
                    break
    return model.eval()


def label_agreement(predicted: torch.Tensor, target: torch.Tensor, num_classes: int) -> dict[str, float]:
    """Pixel accuracy, accuracy on the target's non-background pixels, mean IoU over the classes
    present in either, and object IoU (any shape vs background, whatever its class: does an
    object stand where the map puts one) of predicted vs target class maps [N, H, W]."""
    predicted, target = predicted.long().flatten(), target.long().flatten()
    foreground = target != 0
    intersection = torch.bincount(target[predicted == target], minlength=num_classes).float()
    union = (
        torch.bincount(target, minlength=num_classes) + torch.bincount(predicted, minlength=num_classes)
    ).float() - intersection
    present = union > 0
    objects, wanted = predicted != 0, target != 0
    return {
        "pixel_accuracy": float((predicted == target).float().mean()),
        "foreground_accuracy": float((predicted == target)[foreground].float().mean())
        if foreground.any()
        else float("nan"),
        "mean_iou": float((intersection[present] / union[present]).mean()),
        "object_iou": float((objects & wanted).sum() / (objects | wanted).sum())
        if (objects | wanted).any()
        else float("nan"),
    }
