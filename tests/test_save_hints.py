"""td.save of a whole object (a module, an optimizer, a scheduler), as PyTorch scripts write
``torch.save(model, f)``: refused (tinydl files hold no pickle), with the way that works."""
import pytest

import tinydl as td


@pytest.mark.parametrize("make", [
    lambda: td.nn.Linear(2, 3),
    lambda: td.optim.SGD(td.nn.Linear(2, 3).parameters(), lr=0.1),
])
def test_saving_a_whole_object_says_to_save_its_state_dict(make, tmp_path):
    obj = make()
    name = type(obj).__name__
    with pytest.raises(TypeError, match=rf"save: cannot store a {name}.*state_dict\(\)"):
        td.save(obj, tmp_path / "whole.pt")
    with pytest.raises(TypeError, match=r"state_dict\(\)"):  # inside a checkpoint dict too
        td.save({"model": obj, "epoch": 3}, tmp_path / "whole.pt")


def test_other_objects_keep_the_plain_message(tmp_path):
    with pytest.raises(TypeError, match=r"save: cannot store a set; use dicts") as error:
        td.save({1, 2}, tmp_path / "set.pt")
    assert "state_dict" not in str(error.value)
