"""BackupAndRestore (keras/src/callbacks/backup_and_restore.py): resume an interrupted fit.

At each epoch end (or every `save_freq` batches) the weights, with the optimizer state, go to
`<backup_dir>/latest.weights.h5` and the number of completed epochs to `training_metadata.json`;
the next fit with the same callback restores both and starts at that epoch. Both files are written
atomically."""
import json
import os
import shutil
import types

from xkeras.callbacks.callback import Callback
from xkeras.callbacks.model_checkpoint import count_batch_for_save
from xkeras.saving.atomic import write_atomically


class BackupAndRestore(Callback):
    def __init__(self, backup_dir, save_freq="epoch", double_checkpoint=False, delete_checkpoint=True):
        super().__init__()
        if not backup_dir:
            raise ValueError("Empty `backup_dir` argument passed")
        if save_freq != "epoch" and (not isinstance(save_freq, int) or isinstance(save_freq, bool)):
            raise ValueError(f"Invalid value for argument `save_freq`. Received: save_freq={save_freq}. "
                             "Expected either 'epoch' or an integer value.")
        self.backup_dir = os.fspath(backup_dir)
        self.save_freq = save_freq
        self.double_checkpoint = double_checkpoint
        self.delete_checkpoint = delete_checkpoint
        self._batches_seen_since_last_saving = 0
        self._last_batch_seen = 0
        self._current_epoch = 0
        self._weights_path = os.path.join(self.backup_dir, "latest.weights.h5")
        self._metadata_path = os.path.join(self.backup_dir, "training_metadata.json")
        self._prev_weights_path = self._weights_path + ".bkp"
        self._prev_metadata_path = self._metadata_path + ".bkp"
        if save_freq == "epoch":  # no per-batch hook: fit then stays in the native loop for whole epochs
            self.on_train_batch_end = types.MethodType(Callback.on_train_batch_end, self)

    def on_train_begin(self, logs=None):
        try:
            self._load_model()
        except (OSError, ValueError):
            if not os.path.exists(self._prev_weights_path):
                raise
            shutil.copyfile(self._prev_weights_path, self._weights_path)
            if os.path.exists(self._prev_metadata_path):
                shutil.copyfile(self._prev_metadata_path, self._metadata_path)
            elif os.path.exists(self._metadata_path):
                os.remove(self._metadata_path)
            self._load_model()

    def _load_model(self):
        model = self.model
        if not model.built:
            raise ValueError("To use the BackupAndRestore callback, you model must be built before you call "
                             f"`fit()`. Model {model} is unbuilt. You can build it beforehand by calling it on a "
                             "batch of data.")
        if os.path.exists(self._weights_path):
            if model.optimizer is not None and not model.optimizer.built:
                model.optimizer.build(model.trainable_weights)
            model.load_weights(self._weights_path)
        if os.path.exists(self._metadata_path):
            with open(self._metadata_path) as f:
                model._initial_epoch = json.load(f)["epoch"]

    def on_epoch_end(self, epoch, logs=None):
        self._current_epoch = epoch + 1
        self._last_batch_seen = 0
        if self.save_freq == "epoch":
            self._save_model()

    def on_train_batch_end(self, batch, logs=None):
        if count_batch_for_save(self, batch):
            self._save_model()

    def _save_model(self):
        os.makedirs(self.backup_dir, exist_ok=True)
        if self.double_checkpoint:
            for src, dst in ((self._weights_path, self._prev_weights_path),
                             (self._metadata_path, self._prev_metadata_path)):
                if os.path.exists(src):
                    shutil.copyfile(src, dst)
        self.model.save_weights(self._weights_path, overwrite=True)
        metadata = json.dumps({"epoch": self._current_epoch, "batch": self._last_batch_seen}).encode()
        write_atomically(self._metadata_path, lambda f: f.write(metadata))

    def on_train_end(self, logs=None):
        if self.delete_checkpoint and os.path.exists(self.backup_dir):
            shutil.rmtree(self.backup_dir)
