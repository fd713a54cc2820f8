"""``agents.tasks.BatchedTask`` against Gymnasium, world by world.

The reference is the project's :class:`agents.envs.InlineVectorEnv` over ``gymnasium.make("<Task>-v5")``
(same-step autoreset; ``reset(seed)`` seeds env ``i`` with ``seed + i``), driven with the same actions.
Reset noise is matched by RNG usage, not by copying state: each world owns the generator
``gymnasium.utils.seeding.np_random(seed + i)`` builds and draws what ``reset_model`` draws, so equal
seeds must give equal initial states. Every comparison is bitwise (``np.array_equal``): the batched
side runs the same MuJoCo calls and the same numpy expressions in the same order, so no tolerance is
needed anywhere — the negative controls show that a perturbation of 1e-12 in an action or of one part
in 10⁹ in a reward weight is caught.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import gymnasium as gym
import numpy as np
import pytest

from agents.envs import InlineVectorEnv
from agents.tasks import TASKS, BatchedTask
from agents.tasks.batched import MAX_EPISODE_STEPS

# steps per task in the main comparison (Humanoid is ~0.5 ms per world-step on each side: few steps), and
# the shortened time limit, below the typical episode length under random actions, so that both
# truncations and terminations occur
STEPS = {"Hopper-v5": 300, "Walker2d-v5": 300, "HalfCheetah-v5": 120, "Ant-v5": 200, "Humanoid-v5": 100}
LIMIT = {"Hopper-v5": 15, "Walker2d-v5": 15, "HalfCheetah-v5": 50, "Ant-v5": 60, "Humanoid-v5": 24}


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """MuJoCo writes MUJOCO_LOG.TXT into the working directory on compiler warnings (Humanoid's
    ``settotalmass``): keep it out of the repository."""
    monkeypatch.chdir(tmp_path)


def _reference(env_id: str, n: int, max_episode_steps: int | None, kwargs: dict[str, Any]) -> InlineVectorEnv:
    extra: dict[str, Any] = dict(kwargs)
    if max_episode_steps is not None:
        extra["max_episode_steps"] = max_episode_steps
    fns: list[Callable[[], gym.Env[Any, Any]]] = [lambda: gym.make(env_id, **extra) for _ in range(n)]
    return InlineVectorEnv(fns)


def _assert_same(step: int, ref: tuple[Any, ...], out: tuple[Any, ...]) -> None:
    """Bitwise equality of two same-step-autoreset step results, per world."""
    names = ("obs", "reward", "terminated", "truncated")
    for k in (2, 3, 1, 0):   # episode ends first: a wrong termination also changes reward and obs
        name = names[k]
        a, b = np.asarray(ref[k]), np.asarray(out[k])
        assert a.shape == b.shape and a.dtype == b.dtype, \
            f"step {step}: {name} {a.shape}/{a.dtype} vs {b.shape}/{b.dtype}"
        for i in range(a.shape[0]):
            assert np.array_equal(a[i], b[i]), f"step {step}, world {i}: {name} differs: {a[i]} vs {b[i]}"
    ref_info, info = ref[4], out[4]
    assert set(ref_info) == set(info), f"step {step}: info keys {set(ref_info)} vs {set(info)}"
    if "final_obs" in ref_info:
        assert np.array_equal(ref_info["_final_obs"], info["_final_obs"]), f"step {step}: _final_obs differs"
        for i in map(int, np.flatnonzero(ref_info["_final_obs"])):
            assert np.array_equal(ref_info["final_obs"][i], info["final_obs"][i]), \
                f"step {step}, world {i}: final_obs differs"


def _compare(env_id: str, *, n: int = 3, seed: int = 11, steps: int, max_episode_steps: int | None = None,
             kwargs: dict[str, Any] | None = None, batched_kwargs: dict[str, Any] | None = None,
             nthread: int = 1, action_scale: float = 1.0, dtype: type = np.float64,
             perturb_action: float = 0.0) -> dict[str, int]:
    """Run both sides from the same seed with the same random actions; count episode ends."""
    kwargs = kwargs or {}
    ref = _reference(env_id, n, max_episode_steps, kwargs)
    ours = BatchedTask(env_id, n, nthread=nthread, max_episode_steps=max_episode_steps or MAX_EPISODE_STEPS,
                       **(batched_kwargs if batched_kwargs is not None else kwargs))
    assert ours.single_observation_space == ref.single_observation_space
    assert ours.single_action_space == ref.single_action_space
    ref_obs, _ = ref.reset(seed=seed)
    obs, _ = ours.reset(seed=seed)
    for i in range(n):
        assert np.array_equal(ref_obs[i], obs[i]), f"reset, world {i}: obs differs"
    rng = np.random.default_rng(seed)
    nu = ours.model.nu
    counts = {"terminated": 0, "truncated": 0}
    for t in range(steps):
        action: np.ndarray = (action_scale * rng.uniform(-1, 1, (n, nu))).astype(dtype)
        r = ref.step(action)
        o = ours.step(action + dtype(perturb_action) if perturb_action else action)
        _assert_same(t, r, o)
        counts["terminated"] += int(np.sum(r[2]))
        counts["truncated"] += int(np.sum(r[3]))
    ref.close()
    return counts


@pytest.mark.parametrize("env_id", list(TASKS))
def test_matches_gymnasium(env_id: str) -> None:
    """Default v5 kwargs; episodes shortened on both sides so that truncation, its final observation and
    the reset after it occur along with terminations."""
    counts = _compare(env_id, steps=STEPS[env_id], max_episode_steps=LIMIT[env_id])
    assert counts["truncated"] > 0
    if env_id != "HalfCheetah-v5":
        assert counts["terminated"] > 0, counts


def test_time_limit_is_1000_steps() -> None:
    """The default truncation, unshortened: HalfCheetah (never terminates) truncates at step 1000 exactly
    as Gymnasium's TimeLimit does, final observation and reset included."""
    for env_id in TASKS:
        assert gym.spec(env_id).max_episode_steps == MAX_EPISODE_STEPS
    counts = _compare("HalfCheetah-v5", n=2, steps=MAX_EPISODE_STEPS + 5)
    assert counts == {"terminated": 0, "truncated": 2}


@pytest.mark.parametrize(("env_id", "kwargs"), [
    ("Hopper-v5", {"exclude_current_positions_from_observation": False, "healthy_angle_range": (-0.1, 0.1)}),
    ("Walker2d-v5", {"healthy_reward": 2.0, "reset_noise_scale": 0.05}),
    ("HalfCheetah-v5", {"forward_reward_weight": 0.5, "exclude_current_positions_from_observation": False}),
    ("Ant-v5", {"healthy_z_range": (0.3, 0.7), "include_cfrc_ext_in_observation": False,
                "contact_force_range": (-0.5, 0.5)}),
    ("Humanoid-v5", {"include_cinert_in_observation": False, "include_cvel_in_observation": False,
                     "contact_cost_range": (-np.inf, 1e-3), "healthy_z_range": (1.2, 2.0)}),
])
def test_matches_gymnasium_with_kwargs(env_id: str, kwargs: dict[str, Any]) -> None:
    """Non-default v5 kwargs give the same environment on both sides (here also: Ant terminates)."""
    counts = _compare(env_id, n=2, steps=40, kwargs=kwargs)
    if env_id in ("Ant-v5", "Humanoid-v5"):
        assert counts["terminated"] > 0, counts


def test_float32_actions_two_threads() -> None:
    """float32 actions (Gymnasium then computes the control cost in float32; so does the task) on a
    two-thread batch, for a planar task and for Ant (persistent batch, post-step contact forces)."""
    _compare("Hopper-v5", steps=80, dtype=np.float32, nthread=2)
    _compare("Ant-v5", n=4, steps=40, nthread=2, action_scale=1.5)


def test_independent_seeds_per_world() -> None:
    """An explicit seed per world, distinct reset noise across worlds, and ``reset()`` without a seed
    continuing every world's stream as ``env.reset()`` does."""
    seeds = [5, 123, 5]
    envs = [gym.make("Ant-v5") for _ in seeds]
    ours = BatchedTask("Ant-v5", len(seeds))
    obs, _ = ours.reset(seed=seeds)
    for i, (env, s) in enumerate(zip(envs, seeds, strict=True)):
        assert np.array_equal(env.reset(seed=s)[0], obs[i])
    assert not np.array_equal(obs[0], obs[1]) and np.array_equal(obs[0], obs[2])
    again, _ = ours.reset()
    for i, env in enumerate(envs):
        assert np.array_equal(env.reset()[0], again[i])
    assert not np.array_equal(again[0], obs[0])


def test_negative_controls() -> None:
    """The comparison is sharp: a reward weight off by one part in 10⁹, an action off by 1e-12 or a
    reset noise scale off by one part in 10⁹ or a healthy range changed on the batched side alone makes
    it fail."""
    with pytest.raises(AssertionError, match="reward differs"):
        _compare("Hopper-v5", steps=5, batched_kwargs={"ctrl_cost_weight": 1e-3 * (1 + 1e-9)})
    with pytest.raises(AssertionError, match=r"(reward|obs) differs"):
        _compare("Humanoid-v5", n=1, steps=3, perturb_action=1e-12)
    with pytest.raises(AssertionError, match="reset, world 0: obs differs"):
        _compare("Ant-v5", steps=1, batched_kwargs={"reset_noise_scale": 0.1 * (1 + 1e-9)})
    with pytest.raises(AssertionError, match="terminated differs"):
        _compare("Walker2d-v5", steps=200, batched_kwargs={"healthy_z_range": (0.9, 2.0)})


def test_step_api() -> None:
    """Shapes, dtypes and the vector-env contract the trainer relies on (``agents.envs``)."""
    env = BatchedTask("Hopper-v5", 4)
    assert env.metadata["autoreset_mode"] == gym.vector.AutoresetMode.SAME_STEP
    with pytest.raises(RuntimeError):
        env.step(np.zeros((4, 3)))
    obs, info = env.reset(seed=0)
    assert obs.shape == (4, 11) and obs.dtype == np.float64 and info == {}
    with pytest.raises(ValueError, match="shape"):
        env.step(np.zeros((3, 3)))
    obs, reward, terminated, truncated, info = env.step(np.zeros((4, 3)))
    assert reward.shape == (4,) and reward.dtype == np.float64
    assert terminated.dtype == bool and truncated.dtype == bool and info == {}
    with pytest.raises(ValueError, match="no batched task"):
        BatchedTask("Swimmer-v5", 1)


def test_trainer_runs_on_batched_task() -> None:
    """The PPO trainer takes a BatchedTask as its vector env unchanged (same-step autoreset, final
    observations) and, the worlds being bitwise Gymnasium's, trains exactly as on the inline env."""
    from agents.envs import make_vector_env
    from agents.ppo import PPO, PPOConfig
    from pgcheck.check import checked_scale

    config = PPOConfig(env_id="Hopper-v5", num_envs=4, num_steps=64, total_steps=512, seed=3,
                       minibatch_size=64, update_epochs=2)
    scale = checked_scale(config.scale, config.scale_params)
    metrics = []
    for envs in (make_vector_env("Hopper-v5", 4), BatchedTask("Hopper-v5", 4)):
        trainer = PPO(config, scale, envs=envs)
        metrics.append([trainer.train_one_update() for _ in range(2)])
    for ref, ours in zip(*metrics, strict=True):
        assert ref["episodes"] > 0
        for key in ref:
            if key not in ("time", "sps"):
                assert ref[key] == ours[key] or (ref[key] != ref[key] and ours[key] != ours[key]), key


@pytest.mark.parametrize("env_id", ["Hopper-v5", "Ant-v5", "Humanoid-v5"])
def test_world_states_round_trip_bitwise(env_id: str) -> None:
    """``get_world_states`` / ``set_world_states`` (a lane checkpoint's worlds): a fresh task, reset with other
    seeds and then restored, steps on exactly as the saved one does — observations (with Ant's and Humanoid's
    ``cfrc_ext``, which the engine computes after each step), rewards, episode ends, final observations and the
    resets after them (the restored RNG streams and step counters). Restoring only some worlds leaves the
    others as they were; a restore that skips one field (qvel) is caught."""
    limit, before, after, n = LIMIT[env_id], 9, 2 * LIMIT[env_id], 3
    rng = np.random.default_rng(5)
    src = BatchedTask(env_id, n, max_episode_steps=limit)
    space = cast(gym.spaces.Box, src.single_action_space)   # a MuJoCo task's actions are a Box
    low, high = space.low, space.high
    actions = rng.uniform(low, high, (before + after, n, low.shape[0]))
    src.reset(seed=21)
    for t in range(before):
        src.step(actions[t])
    saved = src.get_world_states(range(n))
    ends = 0
    restored = BatchedTask(env_id, n, max_episode_steps=limit)
    restored.reset(seed=900)
    restored.set_world_states(range(n), saved)
    broken = BatchedTask(env_id, n, max_episode_steps=limit)
    broken.reset(seed=900)
    broken.set_world_states(range(n), [{**s, "mujoco": {k: v for k, v in s["mujoco"].items() if k != "qvel"}}
                                       for s in saved])
    diverged = False
    for t in range(before, before + after):
        ref, out, bad = src.step(actions[t]), restored.step(actions[t]), broken.step(actions[t])
        _assert_same(t, ref, out)
        ends += int(np.sum(ref[2] | ref[3]))
        diverged = diverged or not np.array_equal(ref[0], bad[0])
    assert ends >= n, f"only {ends} episode ends after the restore: the restored RNG streams went untested"
    assert diverged, "a restore without qvel went unnoticed"
    # a partial restore: world 1 only, onto a task whose other worlds keep their own state
    partial = BatchedTask(env_id, n, max_episode_steps=limit)
    partial.reset(seed=900)
    own = partial.get_world_states([0, 2])
    partial.set_world_states([1], [saved[1]])
    assert all(np.array_equal(a, b) for s, o in zip(partial.get_world_states([0, 2]), own, strict=True)
               for a, b in zip(s["mujoco"].values(), o["mujoco"].values(), strict=True))
    assert all(np.array_equal(v, saved[1]["mujoco"][k]) for k, v in partial.get_world_states([1])[0]["mujoco"].items())
    for env in (src, restored, broken, partial):
        env.close()
