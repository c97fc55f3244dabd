/** An IAM policy document as Keyturn's required-permissions answers give it, for the e2e specs that attach and trim them. */
export interface Statement {
  Sid?: string;
  Effect: string;
  Action: string[];
  Resource: string;
}

export interface PolicyDoc {
  Version: string;
  Statement: Statement[];
}

/** The document minus one action; a statement left with no action goes, as IAM refuses empty ones. */
export function without(doc: PolicyDoc, action: string): PolicyDoc {
  return {
    Version: doc.Version,
    Statement: doc.Statement.map((s) => ({ ...s, Action: s.Action.filter((a) => a !== action) })).filter((s) => s.Action.length > 0),
  };
}
