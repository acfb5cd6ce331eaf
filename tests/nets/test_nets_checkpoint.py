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
