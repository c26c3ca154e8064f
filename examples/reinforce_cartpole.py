"""REINFORCE on CartPole-v1: policy gradient with reward-to-go, a baseline and an entropy bonus.

    python examples/reinforce_cartpole.py              # target: mean return >= 475 over 100 evaluation episodes
    python examples/reinforce_cartpole.py --seed 1     # (for at least 2 of the seeds 0, 1, 2; a few minutes each)
    python examples/reinforce_cartpole.py --smoke      # a few episodes, for the test suite

Each update plays ``--episodes-per-update`` episodes with the current
stochastic policy, then ascends

    J(theta) ~ mean_t [ log pi(a_t | s_t) * A_t ] + beta * mean_t H(pi(. | s_t))

where A_t is the reward-to-go G_t = sum_{k >= t} gamma^(k-t) r_k minus a
baseline: the batch's returns normalized to mean 0 and std 1 (``--baseline
normalize``, the default) or a learned value V(s_t) (``--baseline value``).
A baseline does not bias the gradient (E[grad log pi * b(s)] = 0) but cuts its
variance (docs/reinforce.md).  Training stops once the last 20 training
episodes average at least ``--solved`` or after ``--max-minutes``; the
headline metric ``eval_mean_return`` is then measured over 100 fresh episodes
with the greedy policy (the most probable action).

``--device cuda`` puts the policy network, its gradients, Adam's state and
every training tensor on the GPU.  The environment (gymnasium's CartPole) is
plain Python on the host, so each environment step costs two transfers: the
observation (4 numbers) is copied to the device, and the action, sampled there
from ``Categorical(probs)``, is read back (a sync) as the Python int the
environment needs.  Each update then copies the batch's observations,
actions and advantages (or returns) to the device (three copies) and needs no
sync (the range check of the action indices is read back with the next
readout, tinydl/device_checks.py).  With a network this small and two
transfers per environment step, expect no speed-up from the GPU (unmeasured):
the flag is there so that the same script runs on either device.
"""
import time

import numpy as np

import common
import tinydl as td
import tinydl.functional as F
from tinydl import optim
from tinydl.distributions import Categorical
from tinydl.models import PolicyNetwork


def rewards_to_go(rewards, gamma):
    """G_t = r_t + gamma G_{t+1}, computed backwards over one episode."""
    returns, running = np.zeros(len(rewards)), 0.0
    for t in reversed(range(len(rewards))):
        running = rewards[t] + gamma * running
        returns[t] = running
    return returns


@td.no_grad()
def act(policy, observation, device, greedy=False):
    """One action from pi(. | s), drawn on the device with tinydl's seeded generator; the greedy one
    takes the most probable action. The observation goes to the device, the action comes back."""
    log_probs, _ = policy(td.tensor(observation[None].astype(np.float32), device=device))  # host -> device
    probs = log_probs.exp()[0]  # pi(. | s), (2,)
    action = probs.argmax() if greedy else Categorical(probs).sample()
    return action.item()  # device -> host: the environment needs an int


def play(env, policy, device, seed=None, greedy=False):
    """One episode: observations (T, 4), actions (T,), rewards (T,), as host arrays."""
    observation, _ = env.reset(seed=seed)
    observations, actions, rewards = [], [], []
    done = False
    while not done:
        action = act(policy, observation, device, greedy)
        observations.append(observation)
        actions.append(action)
        observation, reward, terminated, truncated, _ = env.step(action)
        rewards.append(reward)
        done = terminated or truncated
    return np.array(observations, dtype=np.float32), np.array(actions), np.array(rewards)


def evaluate(env, policy, episodes, seed, device):
    return [float(play(env, policy, device, seed=seed + i, greedy=True)[2].sum()) for i in range(episodes)]


def update_policy(policy, optimizer, episodes, args):
    """One gradient step on the episodes played: their batch goes to the device once (three copies)."""
    observations = td.tensor(np.concatenate([o for o, _, _ in episodes]), device=args.device)
    actions = td.tensor(np.concatenate([a for _, a, _ in episodes]), device=args.device)
    to_go = np.concatenate([rewards_to_go(r, args.gamma) for _, _, r in episodes]).astype(np.float32)

    log_probs, values = policy(observations)  # (T, 2), (T,) or None
    m = Categorical(log_probs.exp())  # pi(. | s_t) for every step t
    chosen = m.log_prob(actions)  # log pi(a_t | s_t), (T,)
    if args.baseline == "value":
        returns = td.tensor(to_go, device=args.device)
        advantage = returns - values.detach()
        value_loss = F.mse_loss(values, returns) / 100.0  # returns reach ~100: keep the terms comparable
    else:
        advantage = td.tensor((to_go - to_go.mean()) / (to_go.std() + 1e-8), device=args.device)
        value_loss = 0.0
    entropy = m.entropy().mean()  # H(pi(. | s_t)) = -sum_a pi log pi, averaged over t
    loss = -(chosen * advantage).mean() - args.entropy * entropy + value_loss
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()


def main(argv=None):
    parser = common.parser("reinforce_cartpole", __doc__.split("\n")[0])
    parser.add_argument("--episodes-per-update", type=int, default=8)
    parser.add_argument("--max-updates", type=int, default=300)
    parser.add_argument("--lr", type=float, default=5e-3)
    parser.add_argument("--gamma", type=float, default=0.99)
    parser.add_argument("--entropy", type=float, default=0.01, help="weight beta of the entropy bonus")
    parser.add_argument("--baseline", choices=["normalize", "value"], default="normalize")
    parser.add_argument("--solved", type=float, default=490.0)
    parser.add_argument("--eval-episodes", type=int, default=100)
    parser.add_argument("--max-minutes", type=float, default=5.0)
    args = parser.parse_args(argv)
    if args.smoke:
        args.max_updates, args.episodes_per_update, args.eval_episodes = 2, 2, 2
    common.prepare(args)
    import gymnasium as gym

    start = time.time()
    env = gym.make("CartPole-v1")
    env.action_space.seed(args.seed)
    policy = PolicyNetwork(env.observation_space.shape[0], env.action_space.n,
                           value_head=args.baseline == "value").to(args.device)
    optimizer = optim.Adam(policy.parameters(), lr=args.lr)
    progress = common.load_checkpoint(args, policy, optimizer) or {"update": 0, "returns": []}
    returns_history = progress["returns"]
    if progress["update"]:  # resumed: actions from a stream of its own, not a replay of the first updates' one
        td.manual_seed(args.seed * 100_000 + progress["update"])

    update = progress["update"] - 1  # the last update done: a resumed run may have none left
    bar = common.progress(range(progress["update"], args.max_updates), desc="training", unit="update")
    for update in bar:
        episodes = [play(env, policy, args.device,
                         seed=args.seed * 100_000 + update * args.episodes_per_update + i)
                    for i in range(args.episodes_per_update)]
        returns_history += [float(r.sum()) for _, _, r in episodes]
        update_policy(policy, optimizer, episodes, args)

        recent = float(np.mean(returns_history[-20:]))
        bar.set_postfix(mean_return=f"{recent:.1f}", episodes=len(returns_history))
        if (update + 1) % 20 == 0:
            common.save_checkpoint(args, policy, optimizer, {"update": update + 1, "returns": returns_history})
        if recent >= args.solved or time.time() - start > 60 * args.max_minutes:
            break

    train_seconds = time.time() - start
    common.save_checkpoint(args, policy, optimizer, {"update": update + 1, "returns": returns_history})
    scores = evaluate(env, policy, args.eval_episodes, seed=10_000 + args.seed, device=args.device)
    common.plot_curves(f"{args.out}/returns.png", {"episode return": returns_history}, smooth=20,
                       xlabel="training episode", ylabel="return", title="REINFORCE on CartPole-v1")
    metrics = common.write_metrics(args, {
        "eval_mean_return": float(np.mean(scores)), "eval_min_return": float(np.min(scores)),
        "training_episodes": len(returns_history), "updates": update + 1,
        "train_seconds": train_seconds, "seconds": time.time() - start})
    print(f"mean return {metrics['eval_mean_return']:.1f} over {len(scores)} greedy evaluation episodes "
          f"after {len(returns_history)} training episodes ({train_seconds:.0f} s of training)")
    return metrics


if __name__ == "__main__":
    main()
