// The signed-in user, shared by the pages.
import type { MeView } from "apinfer";
import { createContext } from "preact";
import { useContext } from "preact/hooks";

export interface Session {
  me: MeView;
  /** Reloads `me` (after a change of limits, account or role). */
  refresh: () => Promise<void>;
}

export const SessionContext = createContext<Session | null>(null);

/** The session; pages that need one are only rendered while signed in. */
export function useSession(): Session {
  const s = useContext(SessionContext);
  if (!s) throw new Error("useSession outside a session");
  return s;
}

/** Whether the caller manages the account (owner or admin). */
export function isManager(me: MeView): boolean {
  return me.role === "owner" || me.role === "admin";
}
