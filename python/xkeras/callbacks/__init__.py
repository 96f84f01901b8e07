"""`keras.callbacks`."""
from xkeras.callbacks.callback import Callback  # noqa: F401
from xkeras.callbacks.callback_list import CallbackList  # noqa: F401
from xkeras.callbacks.history import History  # noqa: F401
from xkeras.callbacks.progbar_logger import ProgbarLogger  # noqa: F401
