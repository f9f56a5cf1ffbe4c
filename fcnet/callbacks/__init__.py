"""Floor 5: callbacks, the hooks into ``fit``, ``evaluate`` and ``predict``.

Callbacks reach the model only through the object handed to them (``self.model``),
never by import. ``Progbar`` lives here too (it draws ``ProgbarLogger``'s output) and
is re-exported as ``fcnet.utils.Progbar``.
"""

from fcnet.callbacks.backup_and_restore import BackupAndRestore
from fcnet.callbacks.callback import Callback
from fcnet.callbacks.callback_list import CallbackList
from fcnet.callbacks.csv_logger import CSVLogger
from fcnet.callbacks.early_stopping import EarlyStopping
from fcnet.callbacks.history import History
from fcnet.callbacks.lambda_callback import LambdaCallback
from fcnet.callbacks.learning_rate_scheduler import LearningRateScheduler
from fcnet.callbacks.model_checkpoint import ModelCheckpoint
from fcnet.callbacks.monitor_callback import MonitorCallback
from fcnet.callbacks.progbar import Progbar
from fcnet.callbacks.progbar_logger import ProgbarLogger
from fcnet.callbacks.reduce_lr_on_plateau import ReduceLROnPlateau
from fcnet.callbacks.terminate_on_nan import TerminateOnNaN

__all__ = [
    "BackupAndRestore", "Callback", "CallbackList", "CSVLogger", "EarlyStopping", "History",
    "LambdaCallback", "LearningRateScheduler", "ModelCheckpoint", "MonitorCallback",
    "Progbar", "ProgbarLogger", "ReduceLROnPlateau", "TerminateOnNaN",
]
