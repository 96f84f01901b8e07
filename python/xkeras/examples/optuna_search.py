"""Hyper-parameter search with Optuna: a TPE sampler and a median pruner over Fashion-MNIST MLPs.

Each trial builds an MLP from the sampled depth, width, optimizer and learning rate, trains it, reports its
validation loss after every epoch (OptunaPruningCallback) and is stopped early when it is worse than the
median of the finished trials at the same epoch. Small by default (10,000 training images, 5 epochs).

One process:                python3 -m xkeras.examples.optuna_search --n-trials 10
Several workers, one study: give each the same --storage (every worker runs --n-trials trials)
    python3 -m xkeras.examples.optuna_search --storage sqlite:///search.db --n-trials 10 &
    python3 -m xkeras.examples.optuna_search --storage sqlite:///search.db --n-trials 10
On several machines, use a database server they all reach, e.g. --storage postgresql://user:pw@host/db
(Optuna's advice: create the study once first, `optuna create-study --storage URL --study-name NAME
--direction minimize`; this script also retries when workers race to create an empty database's tables).
`--fix NAME=VALUE` holds a hyper-parameter fixed in a worker's trials. Needs `pip install xkeras[tune]`.
"""
import argparse
import time

import numpy as np

import xkeras as keras


def load_data(train_size, valid_size):
    (x, y), _ = keras.datasets.fashion_mnist.load_data()
    x = x.astype(np.float32) / 255.0
    valid = slice(0, valid_size)  # the first images validate, the next ones train (as in the lecture)
    train = slice(valid_size, valid_size + train_size)
    return (x[train], y[train]), (x[valid], y[valid])


def build_model(trial):
    n_hidden = trial.suggest_int("n_hidden", 1, 3)
    n_neurons = trial.suggest_int("n_neurons", 16, 256, log=True)
    optimizer = trial.suggest_categorical("optimizer", ["sgd", "adam"])
    learning_rate = trial.suggest_float("learning_rate", 1e-4, 1e-1, log=True)
    model = keras.Sequential([keras.Input((28, 28)), keras.layers.Flatten()])
    for _ in range(n_hidden):
        model.add(keras.layers.Dense(n_neurons, activation="relu"))
    model.add(keras.layers.Dense(10, activation="softmax"))
    opt = (keras.optimizers.SGD(learning_rate, momentum=0.9) if optimizer == "sgd"
           else keras.optimizers.Adam(learning_rate))
    model.compile(loss="sparse_categorical_crossentropy", optimizer=opt, metrics=["accuracy"])
    return model


def make_objective(data, epochs, batch_size=32):
    (x_train, y_train), (x_valid, y_valid) = data

    def objective(trial):
        model = build_model(trial)
        history = model.fit(x_train, y_train, epochs=epochs, batch_size=batch_size, verbose=0,
                            validation_data=(x_valid, y_valid),
                            callbacks=[keras.callbacks.OptunaPruningCallback(trial, monitor="val_loss")])
        trial.set_user_attr("val_accuracy", history.history["val_accuracy"][-1])
        return history.history["val_loss"][-1]

    return objective


def open_storage(url, attempts=5):
    """An RDBStorage on `url`. Workers started together on an empty database race to create its tables
    (optuna/optuna#1092: the loser fails with "table ... already exists"): retry, the tables are there then."""
    import optuna
    import sqlalchemy.exc
    # SQLite: wait up to 60 s for the file's write lock instead of failing after sqlite's 5 s.
    kwargs = {"connect_args": {"timeout": 60}} if url.startswith("sqlite") else {}
    for attempt in range(attempts):
        try:
            return optuna.storages.RDBStorage(url, engine_kwargs=kwargs)
        except sqlalchemy.exc.DBAPIError:
            if attempt == attempts - 1:
                raise
            time.sleep(0.2 * (attempt + 1))


def open_study(storage, study_name, startup_trials, warmup_steps, seed=None, fixed=None):
    """The study, created by the first worker and loaded by the others; `fixed` params are not searched."""
    import optuna
    sampler = optuna.samplers.TPESampler(seed=seed)
    if fixed:
        sampler = optuna.samplers.PartialFixedSampler(fixed, sampler)
    return optuna.create_study(
        study_name=study_name, storage=None if storage is None else open_storage(storage), direction="minimize",
        load_if_exists=True, sampler=sampler,
        pruner=optuna.pruners.MedianPruner(n_startup_trials=startup_trials, n_warmup_steps=warmup_steps))


def parse_fixed(items):
    """["n_hidden=2", "optimizer=adam"] -> {"n_hidden": 2, "optimizer": "adam"}."""
    fixed = {}
    for item in items or []:
        name, sep, text = item.partition("=")
        if not sep:
            raise SystemExit(f"--fix expects NAME=VALUE. Received: {item!r}")
        for kind in (int, float):
            try:
                fixed[name] = kind(text)
                break
            except ValueError:
                continue
        else:
            fixed[name] = text
    return fixed


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--storage", default=None, help="an Optuna storage URL shared by the workers, e.g. "
                        "sqlite:///search.db or postgresql://user:pw@host/db (default: in memory)")
    parser.add_argument("--study-name", default="xkeras-fashion-mlp")
    parser.add_argument("--n-trials", type=int, default=10, help="trials this worker runs")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--train-size", type=int, default=10000)
    parser.add_argument("--valid-size", type=int, default=2000)
    parser.add_argument("--startup-trials", type=int, default=3,
                        help="finished trials before the median pruner starts pruning")
    parser.add_argument("--warmup-epochs", type=int, default=1, help="epochs a trial always runs")
    parser.add_argument("--seed", type=int, default=None, help="the TPE sampler's seed (give each worker its own)")
    parser.add_argument("--fix", action="append", metavar="NAME=VALUE",
                        help="fix a hyper-parameter in this worker's trials (n_hidden, n_neurons, optimizer, "
                        "learning_rate); repeatable")
    args = parser.parse_args(argv)
    try:
        import optuna
    except ImportError as e:
        raise SystemExit("This example needs Optuna: pip install xkeras[tune]") from e

    study = open_study(args.storage, args.study_name, args.startup_trials, args.warmup_epochs, args.seed,
                       parse_fixed(args.fix))
    study.optimize(make_objective(load_data(args.train_size, args.valid_size), args.epochs), n_trials=args.n_trials)

    states = [t.state for t in study.trials]
    count = {s.name: states.count(s) for s in (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)}
    print(f"study '{study.study_name}': {len(states)} trials, {count['COMPLETE']} complete, "
          f"{count['PRUNED']} pruned")
    if count["COMPLETE"]:
        best = study.best_trial
        print(f"best trial #{best.number}: val_loss {best.value:.4f}, val_accuracy "
              f"{best.user_attrs.get('val_accuracy', float('nan')):.4f}, params {best.params}")
    return study


if __name__ == "__main__":
    main()
