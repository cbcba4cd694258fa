"""redistill: ReDis reasoning distillation for inductive in-context learning."""

from redistill.errors import RedistillError

__version__ = "0.1.0"
__all__ = ["RedistillError", "__version__"]
