import type { Id, TreeNode } from '../../shared/repo/types.js';
import type { Repository } from './repository.js';

/** One node of a snapshot with its absolute path inside the snapshot ("/home/ann/a.txt"). */
export interface WalkedNode {
  path: string;
  node: TreeNode;
}

/**
 * Visits every node under tree `treeId` depth-first, parents before
 * children, in stored (name) order. `descend` may prune a directory.
 */
export async function* walkTree(
  repo: Repository,
  treeId: Id,
  prefix = '',
  descend: (path: string, node: TreeNode) => boolean = () => true,
): AsyncGenerator<WalkedNode> {
  const tree = await repo.loadTree(treeId);
  for (const node of tree.nodes) {
    const p = `${prefix}/${node.name}`;
    yield { path: p, node };
    if (node.type === 'dir' && node.subtree && descend(p, node)) yield* walkTree(repo, node.subtree, p, descend);
  }
}
