import pytest
import torch

from vqct.prior.evaluate import shuffled
from vqct.prior.segmenter import label_agreement, train_segmenter
from vqct.tokenizer.data import DataConfig, build_dataset


def test_agreement_of_known_maps():
    target = torch.tensor([[[0, 0, 1, 1], [0, 2, 2, 1]]])
    assert label_agreement(target, target, 3) == {
        "pixel_accuracy": 1.0,
        "foreground_accuracy": 1.0,
        "mean_iou": 1.0,
        "object_iou": 1.0,
    }
    predicted = torch.tensor([[[0, 0, 1, 0], [0, 2, 0, 1]]])  # two foreground pixels missed
    agreement = label_agreement(predicted, target, 3)
    # IoU: class 0: 3 / 5, class 1: 2 / 3, class 2: 1 / 2; objects: 3 predicted, all inside the 5 wanted
    assert agreement == pytest.approx(
        {
            "pixel_accuracy": 6 / 8,
            "foreground_accuracy": 3 / 5,
            "mean_iou": (3 / 5 + 2 / 3 + 1 / 2) / 3,
            "object_iou": 3 / 5,
        }
    )


def test_shuffled_maps_leave_no_image_with_its_own_map():
    labels = torch.arange(5)[:, None, None].expand(5, 2, 2)
    assert not (shuffled(labels) == labels).all(-1).all(-1).any()


@pytest.mark.slow
def test_segmenter_learns_the_maps_of_its_training_images():
    # A behaviour check, not a quality bar: on a small fixed set it must come to read each image's
    # own map far better than another image's map (the evaluation's shuffled-map floor).
    data = build_dataset(DataConfig(kind="shapes", resolution=32, length=16, validation_length=8))
    segmenter = train_segmenter(data, 9, steps=200, batch_size=8)
    images = torch.stack([data[i]["image"] for i in range(len(data))])
    labels = torch.stack([data[i]["label"] for i in range(len(data))])
    predicted = segmenter.predict(images)
    own, other = label_agreement(predicted, labels, 9), label_agreement(predicted, shuffled(labels), 9)
    assert own["foreground_accuracy"] > other["foreground_accuracy"] + 0.2


def test_a_train_split_smaller_than_a_batch_trains_instead_of_hanging():
    """Six stand-in images and the default batch of 32: drop_last left no batch and the step loop
    never advanced (found by the paper-path rehearsal)."""
    data = build_dataset(DataConfig(kind="shapes", resolution=32, length=6, validation_length=2))
    segmenter = train_segmenter(data, 9, steps=3)
    assert segmenter.predict(torch.stack([data[0]["image"]])).shape == (1, 32, 32)
