"""keras.callbacks.TensorBoard: event files read back with TensorBoard's EventAccumulator; the tags, steps
and directories of Keras 3 (keras-spec §8.9), the values equal to History's."""
import json

import numpy as np
import pytest
from tensorboard.backend.event_processing import event_accumulator  # (imports TensorFlow when reading)

import xkeras as keras


def _read(path):
    acc = event_accumulator.EventAccumulator(str(path), purge_orphaned_data=False,
                                             size_guidance={"scalars": 0, "histograms": 0, "tensors": 0})
    acc.Reload()
    return acc


def _scalars(acc, tag):
    return [(e.step, e.value) for e in acc.Scalars(tag)]


def _model():
    keras.utils.set_random_seed(7)
    model = keras.Sequential([keras.layers.InputLayer(shape=(8,)),
                              keras.layers.Dense(16, activation="relu"),
                              keras.layers.Dense(3, activation="softmax")])
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.05), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    return model


def _data(n=100):
    rng = np.random.default_rng(7)
    return rng.normal(size=(n, 8)).astype(np.float32), rng.integers(0, 3, n)


def test_epoch_scalars_equal_history(tmp_path):
    model = _model()
    x, y = _data()
    log_dir = tmp_path / "run_1"  # a pathlib.Path, as the course passes
    h = model.fit(x, y, batch_size=16, epochs=3, verbose=0, validation_split=0.2,
                  callbacks=[keras.callbacks.TensorBoard(log_dir)])
    assert sorted(p.name for p in log_dir.iterdir()) == ["train", "validation"]
    train, val = _read(log_dir / "train"), _read(log_dir / "validation")
    assert set(train.Tags()["scalars"]) == {"epoch_loss", "epoch_accuracy", "epoch_learning_rate"}
    for name in ("loss", "accuracy"):
        assert _scalars(train, f"epoch_{name}") == [(e, pytest.approx(v, rel=1e-6))
                                                    for e, v in enumerate(h.history[name])]
        assert _scalars(val, f"epoch_{name}") == [(e, pytest.approx(v, rel=1e-6))
                                                  for e, v in enumerate(h.history[f"val_{name}"])]
    assert _scalars(train, "epoch_learning_rate") == [(e, pytest.approx(0.05)) for e in range(3)]
    # after each validation: step = optimizer.iterations (5 batches an epoch)
    assert _scalars(val, "evaluation_loss_vs_iterations") == [(5 * (e + 1), pytest.approx(v, rel=1e-6))
                                                              for e, v in enumerate(h.history["val_loss"])]
    assert not train.Tags()["histograms"]
    # write_graph (default): the model's JSON under "keras" for TensorBoard's graph tab
    (event,) = train.Tensors("keras")
    assert json.loads(event.tensor_proto.string_val[0])["class_name"] == "Sequential"
    # evaluate with another callback on the same directory, within the same second: new files, none truncated
    loss = model.evaluate(x, y, verbose=0, callbacks=[keras.callbacks.TensorBoard(log_dir)])[0]
    assert len(list((log_dir / "train").iterdir())) == 2
    assert [s for s, _ in _scalars(_read(log_dir / "train"), "epoch_loss")] == [0, 1, 2]
    newest = sorted((log_dir / "validation").iterdir())[-1]  # (the reader keeps the first of two equal steps)
    assert _scalars(_read(newest), "evaluation_loss_vs_iterations") == [(15, pytest.approx(loss, rel=1e-6))]


def test_batch_scalars_with_update_freq(tmp_path):
    model = _model()
    x, y = _data()
    seen = []
    record = keras.callbacks.LambdaCallback(on_train_batch_end=lambda b, logs: seen.append(logs["loss"]))
    model.fit(x, y, batch_size=16, epochs=2, verbose=0, callbacks=[keras.callbacks.TensorBoard(tmp_path, update_freq=3),
                                                                    record])
    train = _read(tmp_path / "train")
    # every 3rd batch counted from the start of fit (1-based, as Keras), the running epoch average
    assert _scalars(train, "batch_loss") == [(s, pytest.approx(seen[s - 1], rel=1e-6)) for s in (3, 6, 9, 12)]
    assert [s for s, _ in _scalars(train, "batch_accuracy")] == [3, 6, 9, 12]
    assert [s for s, _ in _scalars(train, "epoch_loss")] == [0, 1]
    model.fit(x, y, batch_size=16, epochs=1, verbose=0, callbacks=[keras.callbacks.TensorBoard(tmp_path / "b",
                                                                                               update_freq="batch")])
    assert [s for s, _ in _scalars(_read(tmp_path / "b" / "train"), "batch_loss")] == list(range(1, 8))


def test_histograms_of_weights_and_gradients(tmp_path):
    model = _model()
    x, y = _data()
    monitor = keras.callbacks.GradientMonitor(every_n_batches=1)
    model.fit(x, y, batch_size=16, epochs=3, verbose=0, shuffle=False,
              callbacks=[keras.callbacks.TensorBoard(tmp_path, histogram_freq=2, write_graph=False, write_images=True),
                         monitor])
    train = _read(tmp_path / "train")
    paths = [w.path for w in model.weights]
    assert set(train.Tags()["histograms"]) == ({f"{p}/histogram" for p in paths}
                                               | {f"{p}/gradient_histogram" for p in paths})
    assert set(train.Tags()["images"]) == {f"{p}/image" for p in paths}
    image = train.Images(f"{paths[0]}/image")[-1]  # the (8, 16) kernel drawn wider than tall
    assert (image.width, image.height) == (16, 8)
    for p, w in zip(paths, model.get_weights()):
        steps = [e.step for e in train.Histograms(f"{p}/histogram")]
        assert steps == [0, 2]
        last = train.Histograms(f"{p}/histogram")[-1].histogram_value  # after the last epoch: the final weights
        assert last.num == w.size
        assert last.sum == pytest.approx(w.sum(), rel=1e-4, abs=1e-5)
        assert last.min == pytest.approx(w.min()) and last.max == pytest.approx(w.max())
        # the gradient of the epoch's last batch: its norm is the monitor's last record
        grad = train.Histograms(f"{p}/gradient_histogram")[-1].histogram_value
        assert grad.num == w.size
        assert np.sqrt(grad.sum_squares) == pytest.approx(monitor.records["variable_gradient_norm"][p][-1], rel=1e-4)


def test_arguments():
    assert keras.callbacks.TensorBoard(update_freq="batch").update_freq == 1
    with pytest.raises(ValueError, match="update_freq"):
        keras.callbacks.TensorBoard(update_freq="step")
    with pytest.raises(ValueError, match="profile_batch"):
        keras.callbacks.TensorBoard(profile_batch=3)
    # update_freq="epoch" leaves fit's batch loop native (no Python batch hooks)
    cbs = keras.callbacks.CallbackList([keras.callbacks.TensorBoard()])
    assert not cbs.has_train_batch_hooks
    assert keras.callbacks.CallbackList([keras.callbacks.TensorBoard(update_freq=5)]).has_train_batch_hooks
