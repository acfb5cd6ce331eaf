import stat

import torch

from triptych.nets.checkpoint import read_checkpoint, save_checkpoint


def test_saved_checkpoint_is_readable_by_everyone_and_round_trips(tmp_path) -> None:
    layer = torch.nn.Linear(3, 2)
    path = save_checkpoint(tmp_path / "w.safetensors", layer, {"config": {"n": 3}})
    mode = stat.S_IMODE(path.stat().st_mode)
    assert mode & 0o044 == 0o044, oct(mode)  # installed packages are read by other users
    tensors, meta = read_checkpoint(path)
    assert meta["config"] == {"n": 3}
    assert torch.allclose(tensors["weight"].float(), layer.weight.detach().half().float())
    assert not list(tmp_path.glob("*.tmp"))


def test_int8_matrices_halve_the_file_and_round_trip_closely(tmp_path) -> None:
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(128, 256), torch.nn.Linear(256, 64))
    fp16 = save_checkpoint(tmp_path / "a.safetensors", net, {})
    int8 = save_checkpoint(tmp_path / "b.safetensors", net, {}, int8=True)
    assert int8.stat().st_size < 0.6 * fp16.stat().st_size
    tensors, _ = read_checkpoint(int8)
    assert set(tensors) == set(net.state_dict())  # scales are folded back in, not exposed
    for key, value in net.state_dict().items():
        tolerance = value.abs().amax(dim=-1, keepdim=True) / 127 * 0.51 + 1e-3
        assert ((tensors[key] - value).abs() <= tolerance).all(), key  # within half a step


def test_read_meta_reads_the_header_alone_and_names_bad_files(tmp_path) -> None:
    import pytest

    from triptych.nets.checkpoint import CheckpointError, read_meta

    path = save_checkpoint(tmp_path / "w.safetensors", torch.nn.Linear(3, 2), {"kind": "x"})
    assert read_meta(path) == {"kind": "x"}
    with pytest.raises(CheckpointError, match="not found"):
        read_meta(tmp_path / "missing.safetensors")
    (tmp_path / "bad.safetensors").write_bytes(b"garbage")
    with pytest.raises(CheckpointError, match="bad.safetensors is corrupt"):
        read_meta(tmp_path / "bad.safetensors")
