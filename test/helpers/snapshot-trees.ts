import type { Repository } from '../../main/engine/repository.js';
import type { Id } from '../../shared/repo/types.js';

/** The tree ID of the folder at absolute path `dir` in a snapshot whose root tree is `root`. */
export async function treeOf(repo: Repository, root: Id, dir: string): Promise<Id> {
  let tree = root;
  for (const name of dir.split('/').filter(Boolean)) {
    const node = (await repo.loadTree(tree)).nodes.find((n) => n.name === name);
    if (!node?.subtree) throw new Error(`no folder ${name} on the way to ${dir}`);
    tree = node.subtree;
  }
  return tree;
}
