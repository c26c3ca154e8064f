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
]


@pytest.mark.parametrize("script, args, convolves", EXAMPLES)
def test_example_runs_on_the_plain_kernels(tmp_path, monkeypatch, script, args, convolves):
    built = []
    plain_init = conv.Im2col.__init__
    monkeypatch.setattr(conv.Im2col, "__init__", lambda self, *a: (built.append(1), plain_init(self, *a))[1])
    with td.use_reference_kernels():
        run_example(script, tmp_path, *args)
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics  # it finished and reported
    assert bool(built) == convolves  # the convolutions ran on the plain im2col (and nothing else built one)
