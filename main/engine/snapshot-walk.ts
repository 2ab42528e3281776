import type { Id, Tree, TreeNode } from '../../shared/repo/types.js';
import { Limiter } from './limiter.js';
import type { Repository } from './repository.js';

/** One node of a snapshot with its absolute path inside the snapshot ("/home/ann/a.txt"). */
export interface WalkedNode {
  path: string;
  node: TreeNode;
}

/**
 * Visits every node under tree `treeId` depth-first, parents before
 * children, in stored (name) order. `descend` may prune a directory. Subtrees
 * are fetched ahead, several at once, while earlier nodes are visited.
 */
export async function* walkTree(
  repo: Repository,
  treeId: Id,
  prefix = '',
  descend: (path: string, node: TreeNode) => boolean = () => true,
): AsyncGenerator<WalkedNode> {
  const limiter = new Limiter(16);
  const load = (id: Id) => {
    const p = limiter.run(() => repo.loadTree(id));
    p.catch(() => {}); // reported when awaited, in walk order
    return p;
  };
  async function* walk(tree: Promise<Tree>, at: string): AsyncGenerator<WalkedNode> {
    const { nodes } = await tree;
    const ahead = new Map<number, Promise<Tree>>();
    nodes.forEach((node, i) => {
      if (node.type === 'dir' && node.subtree && descend(`${at}/${node.name}`, node)) ahead.set(i, load(node.subtree));
    });
    for (const [i, node] of nodes.entries()) {
      const p = `${at}/${node.name}`;
      yield { path: p, node };
      const sub = ahead.get(i);
      if (sub) yield* walk(sub, p);
    }
  }
  yield* walk(load(treeId), prefix);
}
