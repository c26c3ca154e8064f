"""The values a parameter or a sample may take, as in ``torch.distributions.constraints``.

Each constraint's ``check(x)`` works on a raw array (NumPy or CuPy) and returns a boolean
array: True where ``x`` satisfies it (for ``Simplex``, one flag per probability vector).
A distribution checks its parameters with these when ``validate_args`` is on, and the
values given to ``log_prob`` against its ``support``. The names and reprs are PyTorch's.
"""
from .. import backend


class Constraint:
    event_dim = 0  # how many rightmost dims one check covers (1 for a probability vector)

    def __repr__(self):
        return type(self).__name__ + "()"


class Real(Constraint):
    """Any number but NaN (x == x is False only for NaN)."""

    def check(self, x):
        return x == x


class GreaterThan(Constraint):
    def __init__(self, lower_bound):
        self.lower_bound = lower_bound

    def check(self, x):
        return x > self.lower_bound

    def __repr__(self):
        return f"GreaterThan(lower_bound={self.lower_bound})"


class Interval(Constraint):
    def __init__(self, lower_bound, upper_bound):
        self.lower_bound, self.upper_bound = lower_bound, upper_bound

    def check(self, x):
        return (self.lower_bound <= x) & (x <= self.upper_bound)

    def __repr__(self):
        return f"Interval(lower_bound={self.lower_bound}, upper_bound={self.upper_bound})"


class IntegerInterval(Interval):
    """Whole numbers in [lower_bound, upper_bound] (the classes of a Categorical)."""

    def check(self, x):
        return (x % 1 == 0) & super().check(x)

    def __repr__(self):
        return f"IntegerInterval(lower_bound={self.lower_bound}, upper_bound={self.upper_bound})"


class Boolean(Constraint):
    """0 or 1 (the outcomes of a Bernoulli)."""

    def check(self, x):
        return (x == 0) | (x == 1)


class Simplex(Constraint):
    """Vectors along the last dim with entries >= 0 that sum to 1 (to within 1e-6, as PyTorch)."""

    event_dim = 1

    def check(self, x):
        xp = backend.get_array_module(x)
        return xp.all(x >= 0, axis=-1) & (xp.abs(x.sum(axis=-1) - 1) < 1e-6)


class IndependentConstraint(Constraint):
    """``base`` holding for every entry of the last ``event_dim`` dims at once."""

    def __init__(self, base, event_dim):
        self.base, self.event_dim = base, event_dim

    def check(self, x):
        ok = self.base.check(x)
        return ok.reshape(ok.shape[: ok.ndim - self.event_dim] + (-1,)).all(axis=-1)

    def __repr__(self):
        return f"IndependentConstraint({self.base!r}, {self.event_dim})"


real = Real()
positive = GreaterThan(0.0)
unit_interval = Interval(0.0, 1.0)
boolean = Boolean()
simplex = Simplex()
real_vector = IndependentConstraint(real, 1)
