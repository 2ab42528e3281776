/**
 * The desktop window's preload (sandboxed, context-isolated): puts on
 * `window.lifeboat` exactly the API contract, one function per method of
 * `API_METHODS` and a subscription per event of `EVENT_NAMES`, nothing else
 * (no ipcRenderer, no Node). A sandboxed preload cannot load our modules, so
 * the main process hands it the contract derived from shared/ipc.ts as a
 * renderer argument; the types below come from the same place.
 */
import { contextBridge, ipcRenderer } from 'electron';
import type { BridgeContract, BridgeEvent, CallOutcome, CONTRACT_ARGUMENT, LifeboatBridge } from '../../shared/ipc.js';

// The literal's type is that of CONTRACT_ARGUMENT: the compiler keeps the two equal.
const PREFIX: typeof CONTRACT_ARGUMENT = '--lifeboat-contract=';

function readContract(): BridgeContract {
  const arg = process.argv.find((a) => a.startsWith(PREFIX));
  if (!arg) throw new Error('lifeboat preload: the main process did not pass the API contract');
  const b64 = arg.slice(PREFIX.length).replace(/-/g, '+').replace(/_/g, '/');
  return JSON.parse(atob(b64)) as BridgeContract;
}

const contract = readContract();
type Listener = (payload: unknown) => void;
const listeners = new Map<string, Set<Listener>>(contract.events.map((e) => [e, new Set<Listener>()]));

ipcRenderer.on(contract.channels.event, (_e, msg: BridgeEvent) => {
  for (const l of listeners.get(msg.event) ?? []) l(msg.payload);
});

const methods = Object.fromEntries(
  contract.methods.map((m) => [m, (...args: unknown[]): Promise<CallOutcome> => ipcRenderer.invoke(contract.channels.call, m, args) as Promise<CallOutcome>]),
) as unknown as LifeboatBridge['methods'];

const bridge: LifeboatBridge = {
  methods,
  on(event, listener) {
    const set = listeners.get(event);
    if (!set) throw new Error(`lifeboat: no event named ${String(event)}`);
    set.add(listener as Listener);
    return () => {
      set.delete(listener as Listener);
    };
  },
};

contextBridge.exposeInMainWorld('lifeboat', bridge);
