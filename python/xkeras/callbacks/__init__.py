"""`keras.callbacks`."""
from xkeras.callbacks.backup_and_restore import BackupAndRestore  # noqa: F401
from xkeras.callbacks.callback import Callback  # noqa: F401
from xkeras.callbacks.callback_list import CallbackList  # noqa: F401
from xkeras.callbacks.csv_logger import CSVLogger  # noqa: F401
from xkeras.callbacks.early_stopping import EarlyStopping  # noqa: F401
from xkeras.callbacks.gradient_monitor import GradientMonitor  # noqa: F401
from xkeras.callbacks.history import History  # noqa: F401
from xkeras.callbacks.lambda_callback import LambdaCallback  # noqa: F401
from xkeras.callbacks.learning_rate_scheduler import LearningRateScheduler  # noqa: F401
from xkeras.callbacks.model_checkpoint import ModelCheckpoint  # noqa: F401
from xkeras.callbacks.monitor_callback import MonitorCallback  # noqa: F401
from xkeras.callbacks.optuna_pruning import OptunaPruningCallback  # noqa: F401
from xkeras.callbacks.progbar_logger import ProgbarLogger  # noqa: F401
from xkeras.callbacks.reduce_lr_on_plateau import ReduceLROnPlateau  # noqa: F401
from xkeras.callbacks.tensorboard import TensorBoard  # noqa: F401
from xkeras.callbacks.terminate_on_nan import TerminateOnNaN  # noqa: F401
