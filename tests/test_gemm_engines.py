"""The GEMM engines behind tensor/blas.h (oneDNN's sgemm when built with it, OpenBLAS always) give the same
products, transposes, alpha/beta and sub-blocks included, and the switch refuses what the build lacks."""
import numpy as np
import pytest

import xkeras as keras
from xkeras import _core


@pytest.fixture
def each_engine():
    previous = _core.gemm_engine()
    yield _core.gemm_engines()
    _core.set_gemm_engine(previous)


def test_engines_agree_on_a_training_step(each_engine):
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(70, 30)).astype(np.float32), rng.integers(0, 4, 70)
    results = {}
    for engine in each_engine:
        _core.set_gemm_engine(engine)
        keras.utils.set_random_seed(0)
        model = keras.Sequential([keras.Input((30,)), keras.layers.Dense(20, activation="relu"),
                                  keras.layers.Dense(4, activation="softmax")])
        model.compile(optimizer=keras.optimizers.SGD(0.1, momentum=0.9), loss="sparse_categorical_crossentropy")
        model.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0)  # 70 = 4 * 16 + 6: two step shapes
        results[engine] = model.get_weights() + [model.predict(x, verbose=0)]
    reference = results[each_engine[-1]]
    for engine, values in results.items():
        for a, b in zip(values, reference):
            np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5, err_msg=engine)


def test_matmul_and_its_gradients_match_numpy_in_each_engine(each_engine):
    """The forward product is N/N; its backward uses N/T (da = g b^T) and T/N (db = a^T g)."""
    rng = np.random.default_rng(1)
    a = rng.normal(size=(9, 13)).astype(np.float32)
    b = rng.normal(size=(13, 7)).astype(np.float32)
    g = rng.normal(size=(9, 7)).astype(np.float32)
    for engine in each_engine:
        _core.set_gemm_engine(engine)
        va, vb = keras.Variable(a), keras.Variable(b)
        with keras.GradientTape() as tape:
            out = keras.ops.sum(keras.ops.matmul(va, vb) * g)
        ga, gb = tape.gradient(out, [va, vb])
        np.testing.assert_allclose(keras.ops.matmul(va, vb).numpy(), a.astype(np.float64) @ b, rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(np.asarray(ga), g.astype(np.float64) @ b.T, rtol=1e-5, atol=1e-5, err_msg=engine)
        np.testing.assert_allclose(np.asarray(gb), a.T.astype(np.float64) @ g, rtol=1e-5, atol=1e-5, err_msg=engine)


def test_unknown_engine_is_refused_with_the_list():
    with pytest.raises(ValueError, match=r"This build has: .*'openblas'.*Received: engine='mkl'"):
        _core.set_gemm_engine("mkl")
    assert "openblas" in _core.gemm_engines()
    assert _core.gemm_engine() in _core.gemm_engines()
