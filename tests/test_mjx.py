"""The MJX engine (``agents.tasks.mjx``, MuJoCo in JAX), run here on JAX's CPU in float32 as it runs on a
GPU, against Gymnasium; and the task logic of ``agents.tasks.logic`` unchanged under ``jax.numpy``.

MJX compiles per shape: Hopper's reset and 4-substep RK4 step take ~60 s to compile cold on this machine
and ~8 s from JAX's persistent cache (``agents.tasks.mjx.enable_compilation_cache``, under
``~/.cache/pgcheck/jax`` or ``$PGCHECK_JAX_CACHE``), so one engine (4 worlds, compiled for 8) serves
every test here.

Tolerances. In float32, rounding grows through contacts. Measured here over 100 steps of 4 worlds
(time limit 40): Hopper's qpos stays within 5.9e-7..1.7e-6 of Gymnasium's (float64) for 9 of the seeds
11..20 (8.5e-7 at seed 11), while at seed 12 a hard landing amplifies it to 7.2e-5 (no episode end
differs at any of them). The trajectory test therefore fixes seed 11 and allows 5e-6 in qpos; its
negative control (an action offset of 1e-4 on the MJX side only) moves qpos by 4e-4, so the tolerance
separates rounding from a changed input by ~80×. Episode ends must agree exactly.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from agents.tasks import TASKS, BatchedTask
from agents.tasks.batched import load_model
from agents.tasks.engine import make_engine
from agents.tasks.equivalence import compare_to_gymnasium
from agents.tasks.logic import make_task, model_constants
from agents.tasks.mjx import DeviceLogic, MjxEngine, enable_compilation_cache, evaluate_logic
from pgcheck.check import checked_scale

pytestmark = pytest.mark.mjx

QPOS_TOL = 5e-6          # see the module docstring
# checked at import, before JAX starts its threads: the validator forks its child process
PPO_SCALE = checked_scale("ppo", {"eps": "0.2"})
LIMIT = 40               # a shortened time limit, so a truncation and its reset occur too


@pytest.fixture(scope="module")
def engine() -> Iterator[MjxEngine]:
    enable_compilation_cache()
    task = make_task("Hopper-v5")
    yield MjxEngine(load_model(task), 4, task.frame_skip, task.fields, capacity=8)


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)   # MuJoCo may write MUJOCO_LOG.TXT into the working directory


def _task(engine: MjxEngine) -> BatchedTask:
    return BatchedTask("Hopper-v5", engine.num_worlds, engine=engine, max_episode_steps=LIMIT)


def test_mjx_hopper_follows_gymnasium(engine: MjxEngine) -> None:
    """100 steps of 4 Hopper worlds with resets (terminations and a truncation): every episode end as in
    Gymnasium, qpos within QPOS_TOL, observations and rewards at float32 rounding."""
    a = compare_to_gymnasium("Hopper-v5", lambda n: _task(engine), n=4, steps=100, seed=11, max_episode_steps=LIMIT)
    assert a.end_mismatches == [], a.end_mismatches
    assert a.terminated > 0
    assert a.qpos < QPOS_TOL, a.row()
    assert a.obs < 1e-4 and a.reward < 1e-4, a.row()


def test_mjx_negative_control(engine: MjxEngine) -> None:
    """The comparison is sharp: an action offset of 1e-4 on the MJX side only breaks the qpos tolerance."""
    a = compare_to_gymnasium("Hopper-v5", lambda n: _task(engine), n=4, steps=100, seed=11, max_episode_steps=LIMIT,
                             perturb_action=1e-4)
    assert a.qpos > 10 * QPOS_TOL, a.row()


def test_mjx_device_logic_and_dlpack(engine: MjxEngine) -> None:
    """The task logic with ``xp = jax.numpy`` on the device fields gives what the host (numpy, float64)
    logic gives from the same step; a field reaches torch through DLPack without a copy and keeps its
    step's values after the next step (the engine never donates its buffers)."""
    env = _task(engine)
    env.reset(seed=3)
    logic = DeviceLogic(engine, env.task, env.consts)
    torch_qpos = engine.torch_field("qpos")
    assert torch_qpos.data_ptr() == engine.jax_field("qpos").unsafe_buffer_pointer()
    before_values = torch_qpos.clone()
    rng = np.random.default_rng(0)
    for _ in range(5):
        ctrl = rng.uniform(-1, 1, (engine.capacity, engine.model.nu)).astype(np.float32)
        before = np.array(env.task.position(np, env._fields(), env.consts))
        out = logic.step(engine._put(ctrl))
        f = env._fields()
        n = engine.num_worlds
        velocity = (env.task.position(np, f, env.consts) - before) / env.consts.dt
        healthy = env.task.healthy(np, f, env.consts)
        reward, _ = env.task.reward(np, velocity, ctrl[:n], f, env.consts, healthy)
        np.testing.assert_allclose(np.asarray(out.obs)[:n], env.task.observe(np, f, env.consts), atol=1e-5)
        np.testing.assert_allclose(np.asarray(out.reward)[:n], reward, atol=1e-4)
        assert np.array_equal(np.asarray(out.terminated)[:n], env.task.terminated(np, healthy))
    assert torch_qpos.equal(before_values)                     # the old view still shows its step
    assert not engine.torch_field("qpos").equal(before_values)


def test_mjx_engine_contract(engine: MjxEngine) -> None:
    """Shapes, the padded worlds being invisible, and the size checks."""
    env = _task(engine)
    obs, _ = env.reset(seed=0)
    assert obs.shape == (4, 11) and engine.field("qpos").shape == (4, 6)
    assert engine.jax_field("qpos").shape == (8, 6)
    with pytest.raises(ValueError, match="expected 8"):
        engine.step(engine._put(np.zeros((4, 3), dtype=np.float32)))
    with pytest.raises(KeyError):
        engine.field("cfrc_ext")
    with pytest.raises(ValueError, match="an engine of 4 worlds"):
        BatchedTask("Hopper-v5", 5, engine=engine)
    with pytest.raises(ValueError, match="no engine"):
        make_engine("warp", engine.model, 1, 4, ("qpos",))


@pytest.mark.parametrize("env_id", list(TASKS))
def test_logic_under_jax_numpy(env_id: str) -> None:
    """Each task's logic, unchanged, with ``xp = jax.numpy`` (float32) on the fields of real MuJoCo steps
    (the CPU engine's, including Ant's and Humanoid's ``cfrc_ext``) equals the numpy logic to float32
    rounding; a reward weight changed by 1% on the JAX side is caught (negative control)."""
    env = BatchedTask(env_id, 3)
    env.reset(seed=5)
    task, c = env.task, env.consts
    changed = make_task(env_id, forward_reward_weight=getattr(task, "forward_reward_weight") * 1.01)  # noqa: B009
    rng = np.random.default_rng(1)
    caught = False
    for _ in range(20):
        action = rng.uniform(-1, 1, (3, env.model.nu)).astype(np.float32)
        before = np.array(task.position(np, env._fields(), c))
        env.engine.step(action)   # physics only: the fields after the step, no autoreset
        f = {k: np.array(v) for k, v in env._fields().items()}
        velocity = (task.position(np, f, c) - before) / c.dt
        healthy = task.healthy(np, f, c)
        reward, _ = task.reward(np, velocity, action, f, c, healthy)
        obs = task.observe(np, f, c)
        j_obs, j_reward, j_term = evaluate_logic(task, c, f, before, action)
        scale = max(1.0, float(np.max(np.abs(obs))))
        np.testing.assert_allclose(j_obs, obs, atol=2e-6 * scale, rtol=2e-6)
        np.testing.assert_allclose(j_reward, reward, atol=1e-4, rtol=1e-5)
        assert np.array_equal(j_term, task.terminated(np, healthy))
        _, c_reward, _ = evaluate_logic(changed, c, f, before, action)
        caught = caught or not np.allclose(c_reward, reward, atol=1e-4, rtol=1e-5)
    assert caught
    assert model_constants(env.model, task.frame_skip).dt == c.dt


def test_lanes_train_on_mjx_and_resume_with_fresh_episodes(engine: MjxEngine) -> None:
    """``engine = "mjx"`` through the lane trainer: 2 lanes × 2 worlds on the module's 4-world engine train, and
    their checkpoints (no MJX world state) load into a new trainer, which says it starts fresh episodes."""
    from agents.lanes import LaneTrainer
    from agents.ppo import PPOConfig

    scale = PPO_SCALE
    configs = [PPOConfig(seed=s, engine="mjx", num_envs=2, num_steps=16, minibatch_size=16, update_epochs=1,
                         total_steps=64, device="cpu") for s in (0, 1)]
    trainer = LaneTrainer([(c, scale) for c in configs], engine=engine)
    assert not trainer.task.saves_state
    trainer.learn(max_updates=1)
    assert trainer.active == [0, 1] and [ln.global_step for ln in trainer.lanes] == [32, 32]
    states = [trainer.lane_state_dict(i) for i in range(2)]
    assert all(s["batched_env_states"] is None for s in states)
    again = LaneTrainer([(c, scale) for c in configs], engine=engine)
    for i, state in enumerate(states):
        again.load_lane_state_dict(i, state)
    assert [ln.exact_env_state for ln in again.lanes] == [False, False]
    for k, v in trainer.lanes[1].policy.state_dict().items():
        assert np.array_equal(v.numpy(), again.lanes[1].policy.state_dict()[k].numpy()), k
    again.learn(max_updates=1)
    assert [ln.update_index for ln in again.lanes] == [2, 2]
