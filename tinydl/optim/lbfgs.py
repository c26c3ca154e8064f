"""L-BFGS (Liu & Nocedal 1989; Nocedal & Wright, Numerical Optimization, algorithm 7.4), PyTorch's rule.

L-BFGS is a quasi-Newton method: it steps along d = -H g, where H approximates the inverse
Hessian, built from the last ``history_size`` pairs

    s_k = x_{k+1} - x_k        (how the parameters moved)
    y_k = g_{k+1} - g_k        (how the gradient changed),   kept only when y_k . s_k > 1e-10

without ever forming a matrix: the "two-loop recursion" computes H g from the pairs, starting
from the scaled identity H_0 = (y . s / y . y) I of the newest pair.  One ``step(closure)`` runs
up to ``max_iter`` such iterations, re-evaluating the loss through ``closure`` after each, and
stops early when the gradient is tiny (``tolerance_grad``) or the loss or the step stop changing
(``tolerance_change``).  The step length is lr (on the very first iteration min(1, 1 / |g|_1) lr),
or, with ``line_search_fn="strong_wolfe"``, whatever the line search in line_search.py finds.

All parameters are treated as one flat vector, so LBFGS takes one parameter group.
"""
import numbers

from .. import backend
from ..autograd import enable_grad
from .line_search import strong_wolfe
from .optimizer import Optimizer, check_number


class LBFGS(Optimizer):
    """L-BFGS over all parameters as one flat vector (the method is in the module docstring)."""

    def __init__(self, params, lr=1, max_iter=20, max_eval=None, tolerance_grad=1e-7, tolerance_change=1e-9,
                 history_size=100, line_search_fn=None):
        if max_eval is None:
            max_eval = max_iter * 5 // 4
        defaults = dict(lr=lr, max_iter=max_iter, max_eval=max_eval, tolerance_grad=tolerance_grad,
                        tolerance_change=tolerance_change, history_size=history_size, line_search_fn=line_search_fn)
        super().__init__(params, defaults)
        self._params = self.param_groups[0]["params"]

    def add_param_group(self, group):
        if self.param_groups:
            raise ValueError("LBFGS doesn't support per-parameter options (parameter groups)")
        super().add_param_group(group)

    def check_group(self, group):
        check_number("LBFGS", "lr", group["lr"], label="learning rate")
        for name in ("max_iter", "max_eval", "history_size"):
            value = group[name]
            if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < 1:
                raise ValueError(f"LBFGS: {name} must be a positive integer, got {value!r}")
        check_number("LBFGS", "tolerance_grad", group["tolerance_grad"])
        check_number("LBFGS", "tolerance_change", group["tolerance_change"])
        if group["line_search_fn"] not in (None, "strong_wolfe"):
            raise ValueError(
                f"LBFGS: line_search_fn must be None or 'strong_wolfe' (the only ones PyTorch has), "
                f"got {group['line_search_fn']!r}"
            )

    def _restored_state(self, p, i, values, name):
        """As the base class's, and the history lists' arrays go to the parameters' device too."""
        restored = super()._restored_state(p, i, values, name)
        for key in ("old_dirs", "old_stps"):
            if key in restored:
                restored[key] = [backend.to_device(v, p.device) for v in restored[key]]
        return restored

    # ---- the parameters as one flat vector
    def _flat_grad(self):
        xp = backend.get_array_module(self._params[0].data)
        return xp.concatenate([
            xp.zeros(p.data.size, dtype=p.data.dtype) if p.grad is None else p.grad.data.reshape(-1)
            for p in self._params
        ])

    def _add_to_params(self, t, d):
        """x <- x + t d, with d split back into the parameters' shapes."""
        offset = 0
        for p in self._params:
            n = p.data.size
            p.data += t * d[offset:offset + n].reshape(p.data.shape)
            offset += n

    def _evaluate(self, closure):
        """(the loss closure() returns, that loss as a float, the flat gradient it left)."""
        with enable_grad():
            loss = closure()
        return loss, float(loss), self._flat_grad()

    def _evaluate_at(self, closure, x, t, d):
        """The loss and flat gradient at x + t d; the parameters are put back to x afterwards."""
        self._add_to_params(t, d)
        _, loss, flat_grad = self._evaluate(closure)
        for p, saved in zip(self._params, x):
            p.data[...] = saved
        return loss, flat_grad

    def step(self, closure):
        """Up to ``max_iter`` L-BFGS iterations; returns the loss ``closure()`` gave at the start.

        ``closure`` is required: it must clear the gradients, compute the loss, call
        ``backward()`` and return the loss; L-BFGS calls it several times per step."""
        if closure is None or not callable(closure):
            raise TypeError(
                "LBFGS.step needs a closure that recomputes the loss, calls backward() and returns the loss"
            )
        self._opt_called = True
        group = self.param_groups[0]
        lr, max_iter, max_eval = group["lr"], group["max_iter"], group["max_eval"]
        tolerance_grad, tolerance_change = group["tolerance_grad"], group["tolerance_change"]
        xp = backend.get_array_module(self._params[0].data)

        state = self.state.setdefault(self._params[0], {})  # all of L-BFGS's state lives with the first parameter
        state.setdefault("func_evals", 0)
        state.setdefault("n_iter", 0)

        orig_loss, loss, flat_grad = self._evaluate(closure)
        current_evals = 1
        state["func_evals"] += 1
        if float(xp.abs(flat_grad).max()) <= tolerance_grad:  # already at a minimum
            return orig_loss

        d, t = state.get("d"), state.get("t")
        old_dirs, old_stps = state.get("old_dirs"), state.get("old_stps")
        ro, H_diag = state.get("ro"), state.get("H_diag")
        prev_flat_grad, prev_loss = state.get("prev_flat_grad"), state.get("prev_loss")

        n_iter = 0
        while n_iter < max_iter:
            n_iter += 1
            state["n_iter"] += 1
            if state["n_iter"] == 1:  # no curvature pairs yet: steepest descent
                d = -flat_grad
                old_dirs, old_stps, ro, H_diag = [], [], [], 1
            else:
                d, H_diag = self._direction(flat_grad, prev_flat_grad, d, t, old_dirs, old_stps, ro, H_diag,
                                            group["history_size"])
            prev_flat_grad = flat_grad.copy()
            prev_loss = loss

            t = min(1.0, 1.0 / float(xp.abs(flat_grad).sum())) * lr if state["n_iter"] == 1 else lr
            gtd = float(flat_grad @ d)  # the slope along d; not negative enough: no descent left
            if gtd > -tolerance_change:
                break

            ls_func_evals = 0
            if group["line_search_fn"] == "strong_wolfe":
                x_init = [p.data.copy() for p in self._params]
                loss, flat_grad, t, ls_func_evals = strong_wolfe(
                    lambda x, t, d: self._evaluate_at(closure, x, t, d), x_init, t, d, loss, flat_grad, gtd,
                    max_ls=max_eval - current_evals,
                )
                self._add_to_params(t, d)
                opt_cond = float(xp.abs(flat_grad).max()) <= tolerance_grad
            else:
                self._add_to_params(t, d)
                if n_iter != max_iter:  # the last iteration's loss is the next step's first evaluation
                    _, loss, flat_grad = self._evaluate(closure)
                    opt_cond = float(xp.abs(flat_grad).max()) <= tolerance_grad
                    ls_func_evals = 1
            current_evals += ls_func_evals
            state["func_evals"] += ls_func_evals

            if n_iter == max_iter or current_evals >= max_eval or opt_cond:
                break
            if float(xp.abs(d * t).max()) <= tolerance_change:  # the step stopped moving the parameters
                break
            if abs(loss - prev_loss) < tolerance_change:  # the loss stopped changing
                break

        state.update(d=d, t=t, old_dirs=old_dirs, old_stps=old_stps, ro=ro, H_diag=H_diag,
                     prev_flat_grad=prev_flat_grad, prev_loss=prev_loss)
        return orig_loss

    @staticmethod
    def _direction(flat_grad, prev_flat_grad, d, t, old_dirs, old_stps, ro, H_diag, history_size):
        """(-H g by the two-loop recursion, H_0's scale), after adding the newest (s, y) pair to the history."""
        y = flat_grad - prev_flat_grad
        s = d * t
        ys = float(y @ s)
        if ys > 1e-10:  # keep the pair only where the curvature is positive (H stays positive definite)
            if len(old_dirs) == history_size:
                old_dirs.pop(0)
                old_stps.pop(0)
                ro.pop(0)
            old_dirs.append(y)
            old_stps.append(s)
            ro.append(1.0 / ys)
            H_diag = ys / float(y @ y)
        al = [0.0] * len(old_dirs)
        q = -flat_grad
        for i in range(len(old_dirs) - 1, -1, -1):
            al[i] = float(old_stps[i] @ q) * ro[i]
            q -= al[i] * old_dirs[i]
        r = q * H_diag
        for i in range(len(old_dirs)):
            be_i = float(old_dirs[i] @ r) * ro[i]
            r += (al[i] - be_i) * old_stps[i]
        return r, H_diag
