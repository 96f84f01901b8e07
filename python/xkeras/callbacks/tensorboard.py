"""TensorBoard (keras/src/callbacks/tensorboard.py): event files written with tensorboardX.

Same layout and tags as Keras 3: `log_dir/train` and `log_dir/validation`; per epoch (step = epoch)
`epoch_<name>` for every log and `epoch_learning_rate` in train/, the `val_` logs without their prefix
in validation/; with `update_freq` = "batch" or N, `batch_<name>` (the running epoch averages, as Keras)
every N-th batch at step = batches since the start of fit (from 1); after each evaluation,
`evaluation_<name>_vs_iterations` at step = optimizer.iterations in validation/; every `histogram_freq`
epochs, `<weight path>/histogram` for the weights of `model.layers`.

Beyond Keras: with `histogram_freq`, also `<variable path>/gradient_histogram`: the gradient of each
trainable variable for the last training batch of the epoch (the buffer the native loop leaves in place
after the step; Keras 3 no longer writes gradients). Profiling (`profile_batch`) is not available.
"""
import itertools
import os
import time

import numpy as np

from xkeras import _core
from xkeras.callbacks.callback import Callback


_writer_ids = itertools.count()


class _EventFile:
    """One event file written synchronously with tensorboardX's record writer: after `flush()` every
    event is on disk (tensorboardX's SummaryWriter queues events to a thread and its flush does not wait
    for them)."""

    def __init__(self, logdir):
        try:
            from tensorboardX import summary
            from tensorboardX.event_file_writer import EventsWriter
            from tensorboardX.proto.event_pb2 import Event
        except ImportError as e:
            raise ImportError("keras.callbacks.TensorBoard writes its event files with tensorboardX. "
                              "Install it with `pip install xkeras[tensorboard]`.") from e
        self._summary, self._event = summary, Event
        os.makedirs(logdir, exist_ok=True)
        # tensorboardX names a file by the second and the host only: two files opened in the same second
        # (fit then evaluate) would be one, truncated. The pid and a counter keep them apart, as TF does.
        self._writer = EventsWriter(os.path.join(logdir, "events"), f".{os.getpid()}.{next(_writer_ids):04d}")

    def add_summary(self, summary, step):
        self._writer.write_event(self._event(summary=summary, wall_time=time.time(), step=int(step)))

    def add_scalar(self, tag, value, step):
        self.add_summary(self._summary.scalar(tag, float(value)), step)

    def add_histogram(self, tag, values, step):  # 30 equal buckets, as tf.summary.histogram (Keras)
        self.add_summary(self._summary.histogram(tag, np.asarray(values, np.float64), 30), step)

    def add_image(self, tag, image, step):
        self.add_summary(self._summary.image(tag, image, dataformats="HWC"), step)

    def flush(self):
        self._writer.flush()

    def close(self):
        self._writer.close()


class TensorBoard(Callback):
    def __init__(self, log_dir="logs", histogram_freq=0, write_graph=True, write_images=False,
                 write_steps_per_second=False, update_freq="epoch", profile_batch=0, embeddings_freq=0,
                 embeddings_metadata=None):
        super().__init__()
        self.log_dir = str(log_dir)  # a pathlib.Path too (the course passes one)
        self.histogram_freq = histogram_freq
        self.reads_gradients = bool(histogram_freq)  # fit then keeps the gradients in the native buffers
        self.write_graph = write_graph
        self.write_images = write_images
        self.write_steps_per_second = write_steps_per_second
        self.update_freq = 1 if update_freq == "batch" else update_freq
        if self.update_freq != "epoch" and (not isinstance(self.update_freq, (int, np.integer))
                                            or isinstance(self.update_freq, bool) or self.update_freq < 1):
            raise ValueError('`update_freq` must be "batch", "epoch" or a positive integer. '
                             f"Received: update_freq={update_freq!r}")
        if profile_batch:
            raise ValueError("Profiling is not available in xkeras (its loop is native C++, not a TensorFlow or "
                             f"JAX graph). Received: profile_batch={profile_batch} (must be 0)")
        self.embeddings_freq = embeddings_freq
        self.embeddings_metadata = embeddings_metadata
        self._writers = {}
        self._global_train_batch = 0
        self._previous_epoch_iterations = 0
        self._epoch_start_time = 0.0
        self._batch_start_time = 0.0
        if self.update_freq != "epoch":
            # Batch hooks only when batch summaries are asked for: otherwise fit keeps Python out of its loop.
            self.on_train_batch_begin = self._on_train_batch_begin
            self.on_train_batch_end = self._on_train_batch_end

    # ---- writers -------------------------------------------------------------------------------
    def set_model(self, model):
        self._model = model
        self._train_dir = os.path.join(self.log_dir, "train")
        self._val_dir = os.path.join(self.log_dir, "validation")
        self._close_writers()
        if self.write_graph:
            self._write_model_summary()

    def _writer(self, kind):  # created on first use, as Keras (no empty event files)
        if kind not in self._writers:
            self._writers[kind] = _EventFile(self._train_dir if kind == "train" else self._val_dir)
        return self._writers[kind]

    def _close_writers(self):
        for writer in self._writers.values():
            writer.close()
        self._writers = {}

    def _write_model_summary(self):
        """The model's JSON under the tag "keras" for TensorBoard's graph tab (Keras' keras_model_summary)."""
        if type(self.model).__name__ not in ("Sequential", "Functional"):
            return
        try:
            json_string = self.model.to_json()
        except Exception as exc:  # as Keras: a model that does not serialize is skipped with a warning
            import warnings
            warnings.warn(f"Model failed to serialize as JSON. Ignoring... {exc}")
            return
        from tensorboardX.proto.summary_pb2 import Summary, SummaryMetadata
        from tensorboardX.proto.tensor_pb2 import TensorProto
        from tensorboardX.proto.tensor_shape_pb2 import TensorShapeProto
        metadata = SummaryMetadata(plugin_data=SummaryMetadata.PluginData(plugin_name="graph_keras_model",
                                                                          content=b"1"))
        tensor = TensorProto(dtype="DT_STRING", string_val=[json_string.encode("utf-8")],
                             tensor_shape=TensorShapeProto())
        writer = self._writer("train")
        writer.add_summary(Summary(value=[Summary.Value(tag="keras", metadata=metadata, tensor=tensor)]), 0)
        writer.flush()

    # ---- hooks ---------------------------------------------------------------------------------
    def on_train_begin(self, logs=None):
        self._global_train_batch = 0
        self._previous_epoch_iterations = 0

    def on_train_end(self, logs=None):
        self._close_writers()

    def on_epoch_begin(self, epoch, logs=None):
        if self.write_steps_per_second:
            self._previous_epoch_iterations = int(self.model.optimizer.iterations)
            self._epoch_start_time = time.time()

    def on_epoch_end(self, epoch, logs=None):
        self._log_epoch_metrics(epoch, logs)
        if self.histogram_freq and epoch % self.histogram_freq == 0:
            self._log_weights(epoch)
        if self.embeddings_freq and epoch % self.embeddings_freq == 0:
            self.model.save_weights(os.path.join(self._train_dir, f"keras_embedding.ckpt-{epoch}.weights.h5"))

    def on_test_end(self, logs=None):
        optimizer = getattr(self.model, "optimizer", None)
        if optimizer is not None and logs:
            writer = self._writer("val")
            step = int(optimizer.iterations)
            for name, value in logs.items():
                writer.add_scalar(f"evaluation_{name}_vs_iterations", float(value), step)
            writer.flush()

    def _on_train_batch_begin(self, batch, logs=None):
        self._global_train_batch += 1
        if self.write_steps_per_second:
            self._batch_start_time = time.time()

    def _on_train_batch_end(self, batch, logs=None):
        step = self._global_train_batch
        if step % self.update_freq != 0:
            return
        writer = self._writer("train")
        if self.write_steps_per_second:
            writer.add_scalar("batch_steps_per_second", 1.0 / max(time.time() - self._batch_start_time, 1e-9), step)
        for name, value in (logs or {}).items():
            writer.add_scalar(f"batch_{name}", float(value), step)

    # ---- epoch summaries -----------------------------------------------------------------------
    def _log_epoch_metrics(self, epoch, logs):
        if not logs:
            return
        train_logs = {k: v for k, v in logs.items() if not k.startswith("val_")}
        val_logs = {k[4:]: v for k, v in logs.items() if k.startswith("val_")}
        optimizer = getattr(self.model, "optimizer", None)
        if optimizer is not None:
            train_logs["learning_rate"] = float(optimizer.learning_rate)
            if self.write_steps_per_second:
                seconds = time.time() - self._epoch_start_time
                train_logs["steps_per_second"] = (int(optimizer.iterations) - self._previous_epoch_iterations) / seconds
        for kind, values in (("train", train_logs), ("val", val_logs)):
            if values:
                writer = self._writer(kind)
                for name, value in values.items():
                    writer.add_scalar(f"epoch_{name}", float(value), epoch)
                writer.flush()

    def _log_weights(self, epoch):
        writer = self._writer("train")
        for layer in self.model.layers:
            for weight in layer.weights:
                name = weight.path.replace(":", "_")
                value = weight.numpy()
                writer.add_histogram(f"{name}/histogram", value, epoch)
                if self.write_images:
                    image = _weight_image(value)
                    if image is not None:
                        writer.add_image(f"{name}/image", image, epoch)
        with self.model._replay_lock:  # the gradients the last training step left in the native buffers
            grads = [(w.path, _core.last_gradient(w._handle)) for w in self.model.trainable_weights]
        for path, grad in grads:
            if grad is not None:
                writer.add_histogram(f"{path.replace(':', '_')}/gradient_histogram", grad, epoch)
        writer.flush()


def _weight_image(w):
    """A weight as a (height, width, 1) image, as Keras lays it out (vectors as one row, matrices wider
    than tall); None for shapes Keras does not draw. Values are read as intensities in [0, 1]."""
    w = np.squeeze(w)
    if w.ndim == 1:
        w = w.reshape(1, -1)
    elif w.ndim == 2:
        if w.shape[0] > w.shape[1]:
            w = w.T
    else:
        return None
    return np.clip(w, 0.0, 1.0)[:, :, None]
