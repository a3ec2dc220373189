import { useId } from 'react';

/** The messages the API gave for one field (`fields.email` → ["…"]). */
export function fieldErrors(fields, name) {
  const value = fields?.[name];
  if (!value) return [];
  if (Array.isArray(value)) return value.map(String);
  if (typeof value === 'string') return [value];
  return Object.values(value).flat().map((v) => (typeof v === 'string' ? v : JSON.stringify(v)));
}

/** A labelled input (or select/textarea via `as`) with its 422 messages next to it. */
export default function Field({ label, name, errors = [], hint, as: As = 'input', children, className = '', ...props }) {
  const id = useId();
  const errorId = `${id}-error`;
  const hintId = `${id}-hint`;
  const describedBy = [hint ? hintId : null, errors.length ? errorId : null].filter(Boolean).join(' ') || undefined;
  const isCheckbox = props.type === 'checkbox';
  const control = (
    <As id={id} name={name} aria-invalid={errors.length ? true : undefined} aria-describedby={describedBy} {...props}>
      {children}
    </As>
  );
  return (
    <div className={`field ${isCheckbox ? 'field-check' : ''} ${className}`}>
      {isCheckbox ? (
        <label htmlFor={id}>
          {control} {label}
        </label>
      ) : (
        <>
          <label htmlFor={id}>{label}</label>
          {control}
        </>
      )}
      {hint && (
        <p id={hintId} className="hint">
          {hint}
        </p>
      )}
      {errors.length > 0 && (
        <p id={errorId} className="field-error">
          {errors.join(' ')}
        </p>
      )}
    </div>
  );
}
