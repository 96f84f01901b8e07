"""ModelCheckpoint and BackupAndRestore (keras-spec §8.5; keras/src/callbacks/backup_and_restore.py).

Run: python -m pytest tests/test_checkpoint_callbacks.py -q
"""
import json
import os

import numpy as np
import pytest

import xkeras
from xkeras.saving import keras_format

RNG = np.random.default_rng(1)
X = RNG.normal(size=(96, 5)).astype(np.float32)
Y = (X[:, 0] + X[:, 1] > 0).astype(np.float32)


def model_():
    xkeras.utils.set_random_seed(3)
    m = xkeras.Sequential([xkeras.Input((5,)), xkeras.layers.Dense(8, activation="relu"),
                           xkeras.layers.Dense(1, activation="sigmoid")])
    m.compile(optimizer=xkeras.optimizers.SGD(0.05, momentum=0.9), loss="binary_crossentropy",
              metrics=["accuracy"])
    return m


class ScriptedValLoss(xkeras.callbacks.Callback):
    """Replaces val_loss by a scripted sequence and records the weights at each epoch end."""

    def __init__(self, values):
        super().__init__()
        self.values, self.weights = values, []

    def on_epoch_end(self, epoch, logs=None):
        logs["val_loss"] = self.values[epoch]
        self.weights.append(self.model.get_weights())


def test_filepath_template_one_file_per_epoch(tmp_path):
    model = model_()
    template = str(tmp_path / "ckpt" / "{epoch:02d}-{val_loss:.2f}.keras")
    history = model.fit(X, Y, epochs=3, validation_split=0.25, verbose=0,
                        callbacks=[xkeras.callbacks.ModelCheckpoint(template)])
    expected = sorted(f"{e + 1:02d}-{v:.2f}.keras" for e, v in enumerate(history.history["val_loss"]))
    assert sorted(os.listdir(tmp_path / "ckpt")) == expected
    last = xkeras.models.load_model(tmp_path / "ckpt" / expected[-1])
    np.testing.assert_array_equal(last.predict(X, verbose=0), model.predict(X, verbose=0))


def test_save_best_only_keeps_the_best(tmp_path, capsys):
    model = model_()
    script = ScriptedValLoss([0.9, 0.5, 0.7, 0.4, 0.6])
    ckpt = xkeras.callbacks.ModelCheckpoint(str(tmp_path / "best.keras"), save_best_only=True, verbose=1)
    model.fit(X, Y, epochs=5, validation_data=(X, Y), verbose=0, callbacks=[script, ckpt])
    best = xkeras.models.load_model(tmp_path / "best.keras")
    for a, b in zip(best.get_weights(), script.weights[3]):  # epoch 4 had the lowest val_loss
        np.testing.assert_array_equal(a, b)
    out = capsys.readouterr().out
    assert "Epoch 1: val_loss improved from None to 0.90000, saving model to" in out
    assert "Epoch 3: val_loss did not improve from 0.50000" in out
    assert ckpt.best == 0.4


def test_save_weights_only_mode_max_and_batch_frequency(tmp_path):
    model = model_()
    script = ScriptedValLoss([0.1, 0.3, 0.2])
    path = str(tmp_path / "w.weights.h5")
    model.fit(X, Y, epochs=3, validation_data=(X, Y), verbose=0, callbacks=[
        script, xkeras.callbacks.ModelCheckpoint(path, save_weights_only=True, save_best_only=True, mode="max")])
    other = model_()
    other.load_weights(path)
    for a, b in zip(other.get_weights(), script.weights[1]):
        np.testing.assert_array_equal(a, b)
    batches = str(tmp_path / "b" / "e{epoch}-b{batch}.keras")
    model.fit(X, Y, epochs=2, batch_size=32, verbose=0,
              callbacks=[xkeras.callbacks.ModelCheckpoint(batches, monitor="loss", save_freq=2)])
    assert sorted(os.listdir(tmp_path / "b")) == ["e1-b2.keras", "e2-b1.keras", "e2-b3.keras"]


def test_path_rules():
    with pytest.raises(ValueError, match=r"must end in `\.weights\.h5`"):
        xkeras.callbacks.ModelCheckpoint("w.h5", save_weights_only=True)
    with pytest.raises(ValueError, match=r"must end in `\.keras`"):
        xkeras.callbacks.ModelCheckpoint("model.ckpt")
    xkeras.callbacks.ModelCheckpoint("model.h5")  # accepted since Keras 3.8
    with pytest.raises(ValueError, match="Unrecognized save_freq"):
        xkeras.callbacks.ModelCheckpoint("m.keras", save_freq="batch")


def test_epoch_checkpoint_does_not_add_batch_hooks():
    cbs = xkeras.callbacks.CallbackList([xkeras.callbacks.ModelCheckpoint("m.keras"),
                                         xkeras.callbacks.BackupAndRestore("b")])
    assert not cbs.has_train_batch_hooks  # fit stays in the native loop for whole epochs


def test_crash_during_checkpoint_keeps_previous_file(tmp_path, monkeypatch):
    model = model_()
    path = tmp_path / "last.keras"
    real = keras_format.write_weights_h5
    calls = []

    def flaky(fileobj, *args, **kwargs):
        calls.append(1)
        if len(calls) == 3:  # the third save dies halfway through writing
            fileobj.write(b"partial")
            raise KeyboardInterrupt
        return real(fileobj, *args, **kwargs)

    monkeypatch.setattr(keras_format, "write_weights_h5", flaky)
    script = ScriptedValLoss([1.0] * 5)
    with pytest.raises(KeyboardInterrupt):
        model.fit(X, Y, epochs=5, verbose=0, callbacks=[script, xkeras.callbacks.ModelCheckpoint(str(path))])
    monkeypatch.setattr(keras_format, "write_weights_h5", real)
    assert os.listdir(tmp_path) == ["last.keras"]
    saved = xkeras.models.load_model(path)
    for a, b in zip(saved.get_weights(), script.weights[1]):  # the epoch-2 checkpoint survived
        np.testing.assert_array_equal(a, b)


class Interrupt(xkeras.callbacks.Callback):
    def __init__(self, at):
        super().__init__()
        self.at = at

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == self.at:
            raise RuntimeError("Interrupting!")


def test_backup_and_restore_resumes_exactly(tmp_path):
    backup = str(tmp_path / "backup")
    reference = model_()
    ref_history = reference.fit(X, Y, epochs=6, batch_size=16, shuffle=False, verbose=0)

    model = model_()
    with pytest.raises(RuntimeError, match="Interrupting"):
        model.fit(X, Y, epochs=6, batch_size=16, shuffle=False, verbose=0,
                  callbacks=[xkeras.callbacks.BackupAndRestore(backup), Interrupt(4)])
    assert json.load(open(os.path.join(backup, "training_metadata.json")))["epoch"] == 4
    model.fit(X, Y, epochs=1, batch_size=16, shuffle=False, verbose=0)  # damage: the backup must undo this
    history = model.fit(X, Y, epochs=6, batch_size=16, shuffle=False, verbose=0,
                        callbacks=[xkeras.callbacks.BackupAndRestore(backup)])
    assert history.epoch == [4, 5]
    assert history.history["loss"] == ref_history.history["loss"][4:]
    for a, b in zip(model.get_weights(), reference.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert not os.path.exists(backup)  # delete_checkpoint=True removes it when fit completes


def test_backup_and_restore_in_a_fresh_process_model(tmp_path):
    """The restart case: a new model object (as after a crash) picks up the backup."""
    backup = str(tmp_path / "backup")
    first = model_()
    with pytest.raises(RuntimeError):
        first.fit(X, Y, epochs=3, verbose=0, callbacks=[
            xkeras.callbacks.BackupAndRestore(backup, delete_checkpoint=False), Interrupt(2)])
    second = model_()
    history = second.fit(X, Y, epochs=3, verbose=0, callbacks=[
        xkeras.callbacks.BackupAndRestore(backup, delete_checkpoint=False)])
    assert history.epoch == [2]
    assert int(second.optimizer.iterations) == 3 * 3
    assert os.path.exists(os.path.join(backup, "latest.weights.h5"))
