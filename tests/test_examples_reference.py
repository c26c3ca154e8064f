"""Every example also runs on the plain (reference) kernels, as
`TINYDL_REFERENCE_KERNELS=1 python examples/NAME.py` does: a learner can step
through im2col or the BPTT loop while a real model trains."""
import json

import pytest

import tinydl as td
from test_examples import run_example
from tinydl.functional import conv

EXAMPLES = [  # (script, extra arguments, whether it convolves)
    ("quickstart.py", (), False),
    ("train_vae.py", (), False),
    ("reinforce_cartpole.py", (), False),
    ("train_dcgan.py", (), True),
    ("char_lstm.py", (), False),
    ("transformer_sort.py", (), False),
    ("train_unet.py", (), True),
    ("train_yolo.py", (), True),
    ("train_faster_rcnn.py", ("--width", "4", "--roi", "pool"), True),  # pool: RoIPoolPerBox, the plain loop
]


@pytest.mark.parametrize("script, args, convolves", EXAMPLES)
def test_example_runs_on_the_plain_kernels(tmp_path, monkeypatch, script, args, convolves):
    built = {"plain": 0, "fast": 0}
    for kind, cls in (("plain", conv.Im2col), ("fast", conv.KernelRowIm2col)):
        init = cls.__init__
        monkeypatch.setattr(cls, "__init__", lambda self, *a, kind=kind, init=init: (
            built.__setitem__(kind, built[kind] + 1), init(self, *a))[1])
    with td.use_reference_kernels():
        run_example(script, tmp_path, *args)
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics  # it finished and reported
    assert (built["plain"] > 0) == convolves  # the convolutions ran on the plain im2col ...
    assert built["fast"] == 0  # ... and none on the fast one
