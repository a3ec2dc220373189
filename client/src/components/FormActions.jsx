/** A form's submit button and its Cancel button. */
export default function FormActions({ submitLabel, submitDisabled, onCancel }) {
  return (
    <div className="actions">
      <button type="submit" disabled={submitDisabled}>
        {submitLabel}
      </button>
      <button type="button" className="secondary" onClick={onCancel}>
        Cancel
      </button>
    </div>
  );
}
