"""The fiches projection: agrément and place events become fiches (consumers), the publication rules decide what the
public sees (domain), and the validity sweeps announce what a day changed (commands)."""
