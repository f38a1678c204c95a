"""Warnings that point at the user's line, however deep in the package they are raised."""

import os
import sys
import warnings

import joblib
import sklearn

# Frames in these directories are skipped: the package, and the scikit-learn / joblib
# machinery (fit wrappers, Parallel) that sits between the user and the package.
_INTERNAL_DIRS = tuple(os.path.dirname(m.__file__) + os.sep
                       for m in (sys.modules[__package__], sklearn, joblib))


def warn_user(message, category=UserWarning):
    """``warnings.warn`` with the stack level of the first frame outside the package."""
    frame, level = sys._getframe(1), 1
    while frame is not None and frame.f_code.co_filename.startswith(_INTERNAL_DIRS):
        frame, level = frame.f_back, level + 1
    warnings.warn(message, category, stacklevel=level + 1 if frame is not None else 2)
