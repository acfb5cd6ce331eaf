"""Native bf16 is read from the CPU's flags, not assumed from AVX-512."""

from __future__ import annotations

from triptych.cpu_features import native_bf16

FLAGS = "processor\t: 0\nflags\t\t: fpu sse avx2 avx512f avx512bw avx512_vnni\nbugs\t\t: none\n"


def test_avx512_alone_is_not_native_bf16() -> None:
    assert not native_bf16(FLAGS)
    assert not native_bf16("")


def test_either_bf16_flag_is() -> None:
    assert native_bf16(FLAGS.replace("avx512_vnni", "avx512_vnni avx512_bf16"))
    assert native_bf16(FLAGS.replace("avx2", "avx2 amx_bf16 amx_tile"))
