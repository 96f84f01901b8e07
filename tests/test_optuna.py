"""Optuna with xkeras: the pruning callback, and the example's study shared by two worker processes.

Run: python -m pytest tests/test_optuna.py -q
"""
import os
import subprocess
import sys
import warnings

import numpy as np
import pytest

import xkeras as keras

optuna = pytest.importorskip("optuna", reason="Optuna is the optional dependency under test")
optuna.logging.set_verbosity(optuna.logging.WARNING)

RNG = np.random.default_rng(0)
X = RNG.normal(size=(80, 4)).astype(np.float32)
Y = (X @ np.array([[1.0], [-2.0], [0.5], [0.0]], np.float32)).astype(np.float32)


def small_model():
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    model.compile(keras.optimizers.SGD(0.05), "mse")
    return model


def run_trial(pruner, epochs=4, **callback_kwargs):
    """One trial of an in-memory study; returns (trial, history logs or None if pruned, the model)."""
    study = optuna.create_study(pruner=pruner)
    out = {}

    def objective(trial):
        out["model"] = model = small_model()
        cb = keras.callbacks.OptunaPruningCallback(trial, **callback_kwargs)
        out["history"] = model.fit(X, Y, epochs=epochs, validation_split=0.25, verbose=0, callbacks=[cb]).history
        return out["history"]["val_loss"][-1]

    study.optimize(objective, n_trials=1)
    return study.trials[0], out.get("history"), out["model"]


def test_reports_val_loss_every_epoch_and_completes():
    trial, history, _ = run_trial(optuna.pruners.NopPruner())
    assert trial.state == optuna.trial.TrialState.COMPLETE
    assert trial.intermediate_values == dict(enumerate(history["val_loss"]))


def test_pruning_stops_fit_and_leaves_the_model_usable():
    # ThresholdPruner(upper=0) prunes any positive loss at the first report: epoch 0.
    trial, history, model = run_trial(optuna.pruners.ThresholdPruner(upper=0.0))
    assert trial.state == optuna.trial.TrialState.PRUNED and history is None
    assert list(trial.intermediate_values) == [0]
    assert model.optimizer.iterations.numpy() == 2  # one epoch of 60 training rows in batches of 32
    assert model.predict(X, verbose=0).shape == (80, 1)
    assert len(model.fit(X, Y, epochs=1, verbose=0).history["loss"]) == 1


def test_interval_monitor_and_missing_metric():
    trial, history, _ = run_trial(optuna.pruners.NopPruner(), epochs=5, monitor="loss", interval=2)
    assert trial.intermediate_values == {1: history["loss"][1], 3: history["loss"][3]}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        trial, _, _ = run_trial(optuna.pruners.NopPruner(), epochs=2, monitor="val_accuracy")
    assert trial.intermediate_values == {} and trial.state == optuna.trial.TrialState.COMPLETE
    assert any("'val_accuracy' is not in the evaluation logs" in str(w.message) for w in caught)
    with pytest.raises(ValueError, match="interval"):
        keras.callbacks.OptunaPruningCallback(None, interval=0)


GOOD = {"n_hidden": 1, "n_neurons": 128, "optimizer": "adam", "learning_rate": 3e-3}
BAD = {"n_hidden": 1, "n_neurons": 16, "optimizer": "sgd", "learning_rate": 1e-4}  # barely moves in 3 epochs


def test_two_workers_share_one_sqlite_study(tmp_path):
    """Two processes run the example against one SQLite file, 3 trials each, one with good and one with bad
    hyper-parameters fixed (--fix). The study is seeded with a finished trial whose validation loss is 1.5
    at every epoch: a bad trial (val_loss ~2.3) is above the median of the finished trials (that one and
    finished good ones, all below 1.5) at epoch 0, so the pruner must stop it there; the first good trial
    to finish only ever meets the seeded trial, so at least one completes.
    (Not enqueue_trial: two processes popping enqueued trials from SQLite can take the same one,
    optuna/optuna#4002.)"""
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution
    url = f"sqlite:///{tmp_path / 'search.db'}"
    study = optuna.create_study(study_name="shared", storage=url, direction="minimize")
    distributions = {"n_hidden": IntDistribution(1, 3), "n_neurons": IntDistribution(16, 256, log=True),
                     "optimizer": CategoricalDistribution(["sgd", "adam"]),
                     "learning_rate": FloatDistribution(1e-4, 1e-1, log=True)}
    study.add_trial(optuna.trial.create_trial(params=GOOD, distributions=distributions, value=1.5,
                                              intermediate_values={0: 1.5, 1: 1.5, 2: 1.5}))

    args = [sys.executable, "-m", "xkeras.examples.optuna_search", "--storage", url, "--study-name", "shared",
            "--n-trials", "3", "--epochs", "3", "--train-size", "2000", "--valid-size", "500",
            "--startup-trials", "1", "--warmup-epochs", "0"]
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1"}
    workers = [subprocess.Popen(args + [f"--fix={k}={v}" for k, v in params.items()], env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
               for params in (GOOD, BAD)]
    outputs = [w.communicate(timeout=120)[0] for w in workers]
    assert [w.returncode for w in workers] == [0, 0], "\n\n".join(outputs)

    trials = optuna.load_study(study_name="shared", storage=url).trials
    states = optuna.trial.TrialState
    assert len(trials) == 1 + 2 * 3, "\n\n".join(outputs)
    assert all(t.state in (states.COMPLETE, states.PRUNED) for t in trials), [t.state for t in trials]
    worker_trials = trials[1:]
    bad = [t for t in worker_trials if t.params == BAD]
    good = [t for t in worker_trials if t.params == GOOD]
    assert len(bad) == 3 and len(good) == 3
    for t in bad:
        assert t.state == states.PRUNED and list(t.intermediate_values) == [0] and t.intermediate_values[0] > 1.5
    assert any(t.state == states.COMPLETE for t in good)
    for t in worker_trials:  # a pruned trial stopped at its last report (any epoch, the last one too)
        if t.state == states.COMPLETE:
            assert sorted(t.intermediate_values) == [0, 1, 2] and t.value == t.intermediate_values[2]
            assert 0 < t.user_attrs["val_accuracy"] <= 1
        else:
            steps = sorted(t.intermediate_values)
            assert steps == list(range(len(steps))) and t.value == t.intermediate_values[steps[-1]]
    assert "Trial was pruned at epoch 0" in outputs[1]
    assert all("study 'shared':" in out for out in outputs)


def test_workers_starting_together_on_an_empty_database(tmp_path):
    """Processes opening one new SQLite file at once race to create Optuna's tables (optuna/optuna#1092);
    the example retries, so every worker gets the one study (without the retry, one in two runs failed)."""
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    code = ("import sys; from xkeras.examples.optuna_search import open_study; "
            "print(open_study(sys.argv[1], 'fresh', 1, 0).study_name)")
    workers = [subprocess.Popen([sys.executable, "-c", code, url], stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True) for _ in range(3)]
    outputs = [w.communicate(timeout=60)[0] for w in workers]
    assert [w.returncode for w in workers] == [0, 0, 0], "\n\n".join(outputs)
    assert [s.study_name for s in optuna.get_all_study_summaries(url)] == ["fresh"]


def test_callback_without_optuna_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "optuna", None)
    with pytest.raises(ImportError, match=r"pip install xkeras\[tune\]"):
        keras.callbacks.OptunaPruningCallback(None)
