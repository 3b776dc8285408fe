import pytest
import torch

from vqct.tokenizer.geometry import codebook_geometry, effective_rank, mean_pairwise_cosine


def test_cosine_of_identical_orthogonal_and_opposite_codes():
    assert mean_pairwise_cosine(torch.ones(5, 3)) == pytest.approx(1.0)
    assert mean_pairwise_cosine(torch.eye(4)) == pytest.approx(0.0)
    assert mean_pairwise_cosine(torch.tensor([[1.0, 0.0], [-1.0, 0.0]])) == pytest.approx(-1.0)
    codes = torch.randn(30, 6, generator=torch.Generator().manual_seed(0))
    unit = torch.nn.functional.normalize(codes, dim=1)
    brute = (unit @ unit.T).sum() - 30
    assert mean_pairwise_cosine(codes) == pytest.approx(float(brute) / (30 * 29), abs=1e-6)


def test_effective_rank_counts_the_directions_the_codes_spread_over():
    generator = torch.Generator().manual_seed(0)
    spread_evenly = torch.linalg.qr(torch.randn(8, 8, generator=generator))[0] * 3
    assert effective_rank(torch.cat([spread_evenly, -spread_evenly])) == pytest.approx(8.0, rel=1e-6)
    on_a_line = torch.arange(10.0)[:, None] * torch.tensor([[1.0, 2.0, -1.0]])
    assert effective_rank(on_a_line) == pytest.approx(1.0, abs=1e-6)
    codes = torch.randn(50, 6, generator=generator)
    assert effective_rank(codes + 100.0) == pytest.approx(effective_rank(codes))  # a shift changes no code's neighbours


def test_geometry_is_reported_per_code_group():
    result = codebook_geometry((torch.eye(3), torch.ones(4, 2)), ("adjective", "noun"))
    assert set(result) == {
        "geometry/adjective_cosine",
        "geometry/adjective_rank",
        "geometry/noun_cosine",
        "geometry/noun_rank",
    }
    assert result["geometry/noun_cosine"] == pytest.approx(1.0)
